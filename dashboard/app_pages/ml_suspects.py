"""Multi-label suspects (#28): the flagged rows ranked, one row in detail with its content,
its per-class probabilities and its flagged tags in words."""

import numpy as np
import pandas as pd
import streamlit as st

from analysis.review.multilabel import decode_tags, encode_tags, with_tag
from dashboard import ml_compute, ml_figures, session
from dashboard.text import md

source, key, result = session.current_multilabel()
names = result.class_names

st.title("Suspects")
table = ml_compute.issue_table(key, result)
if table.empty:
    st.success("No row is flagged: every confident example agrees with its tags.")
    st.stop()

c1, c2 = st.columns([3, 1.4], vertical_alignment="bottom")
classes = c1.multiselect("Flagged tag", list(range(len(names))), format_func=names.__getitem__,
                         key="ml_suspect_classes", placeholder="any tag")
kind = c2.radio("Issue", ["any", "missing", "extra"], horizontal=True, key="ml_suspect_kind")
rows = table["row"].to_numpy()
if classes or kind != "any":
    cells = {"any": result.estimate.issues, "missing": result.missing_tags,
             "extra": result.extra_tags}[kind]
    wanted = cells[rows][:, classes].any(axis=1) if classes else cells[rows].any(axis=1)
    table = table[wanted]
    rows = rows[wanted]
st.caption(f"**{len(rows):,}** of {int(result.is_issue.sum()):,} flagged rows match, lowest "
           "score first (the score: low = a tag likely wrong).")
if len(rows) == 0:
    st.success("No flagged row matches these filters.")
    st.stop()


def joined(tag_lists) -> list[str]:
    return [", ".join(t) if t else "—" for t in tag_lists]


def review_text(action: str, new_label) -> str:
    """A decision in words (plain text: for table cells)."""
    if action == "relabel":
        return "tags: " + (", ".join(decode_tags(new_label, names)) or "none")
    return {"keep": "kept as given", "remove": "row removed"}.get(action, action)


ids = [str(i) for i in table["id"]]
asked = st.query_params.get("id")
position = ids.index(asked) if asked in ids else 0
# the table's selection: a new pick moves the detail (then the URL names it). The table's key
# changes with the filters and with every Previous / Next, so that a stale checkbox is cleared
# instead of showing beside the marked row
table_key = f"ml_suspect_table:{kind}:{classes}:{st.session_state.get('_ml_walks', 0)}"
picked = st.session_state.get(table_key)
picked = picked.selection.rows[0] if picked and picked.selection.rows else None
if picked is not None and picked < len(ids) \
        and st.session_state.get("_ml_last_pick") != (table_key, picked):
    st.session_state["_ml_last_pick"] = (table_key, picked)
    position = picked
store = ml_compute.review_store(source)
decided = store.decisions()
said = {str(i): review_text(a, t) for i, a, t in zip(decided["id"], decided["action"],
                                                       decided["new_label"], strict=True)}
shown = pd.DataFrame({"": np.where(np.arange(len(ids)) == position, "▶", ""),
                      "id": ids, "given tags": joined(table["given_tags"]),
                      "suggested tags": joined(table["suggested_tags"]),
                      "score": table["score"].to_numpy(),
                      "review": [said.get(i, "") for i in ids]})
st.dataframe(shown, hide_index=True, height=320, on_select="rerun", selection_mode="single-row",
             key=table_key,
             column_config={"": st.column_config.TextColumn("", width="small"),
                            "id": st.column_config.TextColumn("id", width="small"),
                            "score": st.column_config.NumberColumn(format="%.3f")})
nav = st.columns([1, 1, 4], vertical_alignment="center")
step = 0
if nav[0].button("Previous", icon=":material/arrow_back:", disabled=position == 0,
                 key="ml_prev", shortcut="Left"):
    step = -1
if nav[1].button("Next", icon=":material/arrow_forward:", disabled=position >= len(ids) - 1,
                 key="ml_next", shortcut="Right"):
    step = 1
if step:  # rerun so that the buttons and the marker are drawn for the new position
    st.query_params["id"] = ids[position + step]
    st.session_state["_ml_walks"] = st.session_state.get("_ml_walks", 0) + 1
    st.rerun()
nav[2].caption(f"Row {position + 1:,} of {len(ids):,} (← / → keys walk the list)")
session.set_query("id", ids[position])
row = int(rows[position])

st.subheader(f"Row {md(result.ids[row])}")
for sentence in ml_compute.sentences(key, result, row):
    st.markdown(f"- {md(sentence)}")
g = st.columns(2)
g[0].markdown("**Given:** " + (", ".join(md(t) for t in table["given_tags"].iloc[position])
                               or "—"))
g[1].markdown("**Suggested:** " + (", ".join(md(t) for t in table["suggested_tags"].iloc[position])
                                   or "—"))
rid = str(result.ids[row])
decision = store.get(rid)
given = list(table["given_tags"].iloc[position])
current = decode_tags(decision["new_label"], names) if decision and decision["action"] == \
    "relabel" else given
st.caption("Decision: " + (md(review_text(decision["action"], decision["new_label"]))
                           if decision else "none yet") + ". Decisions are kept at once (a "
           "refresh or a restart keeps them); the Export page can apply them.")
b = st.columns(4)
choice = None
if b[0].button("Accept the suggestion", type="primary", key="ml_accept",
               icon=":material/check:"):
    choice = ("relabel", encode_tags(list(table["suggested_tags"].iloc[position])))
if b[1].button("Keep the given tags", key="ml_keep", icon=":material/done_all:"):
    choice = ("keep", None)
if b[2].button("Remove the row", key="ml_remove", icon=":material/delete:"):
    choice = ("remove", None)
if b[3].button("Undo", key="ml_undo", icon=":material/undo:", disabled=not store.can_undo()):
    store.undo()
    st.rerun()
a = st.columns([2, 1, 2, 1], vertical_alignment="bottom")
others = [c for c in names if c not in current]
add = a[0].selectbox("Add a tag", others, index=None, key=f"ml_add:{rid}",
                     placeholder="a tag the row lacks")
if a[1].button("Add", key="ml_add_go", disabled=add is None):
    choice = ("relabel", encode_tags(with_tag(current, add, True, names)))
drop = a[2].selectbox("Remove a tag", current, index=None, key=f"ml_drop:{rid}",
                      placeholder="a tag the row has")
if a[3].button("Remove", key="ml_drop_go", disabled=drop is None):
    choice = ("relabel", encode_tags(with_tag(current, drop, False, names)))
if choice is not None:
    store.decide(rid, *choice)
    st.rerun()

left, right = st.columns([1, 1.4])
with left:
    shape = ml_compute.image_shape(source)
    features = [c for c in result.frame.columns if str(c).startswith("px_")]
    if shape is not None and len(features) == shape[0] * shape[1]:
        pixels = result.frame.loc[result.frame.index[row], features].to_numpy(dtype=np.float64)
        image = 1 - pixels.reshape(shape) / max(float(pixels.max()), 1.0)
        st.image(np.kron(image, np.ones((16, 16))), caption="the row's pixels", clamp=True)
    elif source.text_col and source.text_col in result.frame.columns:
        st.text(str(result.frame[source.text_col].iloc[row]))  # plain text
    else:
        st.dataframe(result.frame.iloc[[row]].T.rename(columns=lambda _: "value").astype(str),
                     key="ml_row_cells")
with right:
    probabilities = ml_compute.row_probabilities(result, row)
    st.plotly_chart(ml_figures.row_probability_bars(probabilities), key="ml_row_probs")
    st.caption("The model's probability of each tag (out of fold); pink: the tag is given, "
               "grey: not given.")
    st.dataframe(probabilities, hide_index=True, key="ml_row_table", column_config={
        "probability": st.column_config.NumberColumn(format="%.3f")})
