"""Noise by slice: where the wrong labels come from (a vendor, a source, an annotator)."""

import numpy as np
import streamlit as st

from analysis.review import findings
from dashboard import compute, findings_view, session
from dashboard.text import md

dataset, result = session.current()

st.title("Noise by slice")
column = findings_view.current_slice_column()
candidates = findings.slice_columns(dataset)
if column is None:
    if candidates:
        st.info("Choose a column under **Break noise down by** in the sidebar.")
    else:
        st.info("This dataset has no column to slice by: a text column with 2 to "
                f"{findings.MAX_SLICES} distinct values that is not the label (e.g. vendor, "
                "source, annotator, batch). `noiselens analyze --slice-col COL` takes any "
                "column.")
    st.stop()

sl = findings_view.slices(dataset, result, column)
t = sl.table
first = t.iloc[0]
if len(t) > 1:
    rest = t.iloc[1:]
    ratio = first["noise_rate"] / max(rest["noise_rate"].mean(), 1e-9)
    st.markdown(
        f"**{md(first['slice'])}** has the noisiest labels: {100 * first['noise_rate']:.1f}% "
        f"estimated wrong ({100 * first['low']:.1f}–{100 * first['high']:.1f}%), "
        f"**{ratio:.1f}×** the average of the other {len(rest)} value(s) of "
        f"*{md(column)}*; it holds {100 * first['share_of_wrong']:.0f}% of all estimated "
        "wrong labels.")
st.plotly_chart(findings_view.slice_figure(t.head(30), column), key="slice_bars")
st.caption(f"Per slice: each class's rows times the share of its confidently counted rows "
           f"counted for another class. Intervals: {sl.method}.")

shown = t.assign(
    noise=[f"{100 * r.noise_rate:.1f}% ({100 * r.low:.1f}–{100 * r.high:.1f}%)"
           for r in t.itertuples()],
    confuses=[", ".join(f"{g} for {tr} (~{c:.0f})" for g, tr, c in r.top_pairs)
              for r in t.itertuples()],
)[["slice", "rows", "noise", "wrong", "flagged", "confuses"]]
st.dataframe(shown.rename(columns={
    "slice": column, "noise": "estimated wrong (95% interval)", "wrong": "wrong rows (est.)",
    "confuses": "most confused: labelled X for Y"}), hide_index=True,
    column_config={"wrong rows (est.)": st.column_config.NumberColumn(format="%.0f")})

st.subheader("Suspects of one slice")
names = t["slice"].tolist()
wanted = st.query_params.get("slice_value", names[0])
pick = st.selectbox(f"{column}", names, index=names.index(wanted) if wanted in names else 0,
                    format_func=str, key="slice_value")
session.set_query("slice_value", pick, names[0])
values = findings.slice_values(dataset, column)
order = compute.review_order(result, compute.review_store(dataset).decisions())
rows = order[values[order] == pick]
st.caption(f"{rows.size:,} flagged rows of {md(pick)} not reviewed yet, most likely wrong first "
           "(the model's probability, updated with every verdict). Open one on the Suspects "
           "page by its id.")
table = result.table().iloc[rows][["id", "given_name", "suggested_name", "p_given",
                                   "p_suggested"]]
st.dataframe(table.head(500).rename(columns={
    "given_name": "given", "suggested_name": "suggested", "p_given": "P(given)",
    "p_suggested": "P(suggested)"}), hide_index=True, column_config={
    "P(given)": st.column_config.NumberColumn(format="percent"),
    "P(suggested)": st.column_config.NumberColumn(format="percent")})
if rows.size:
    st.page_link("app_pages/suspects.py", label=f"Open id {md(dataset.ids[rows[0]])} in Suspects",
                 icon=":material/arrow_forward:",
                 query_params={"id": str(dataset.ids[int(np.asarray(rows)[0])])})
