"""noiselens dashboard: the data source and methods in the sidebar, the pages in the middle.

Run with ``noiselens dashboard`` (optionally ``--data FILE --label-col COL``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from analysis.data import samples
from analysis.data.dataset import DataError, read_columns
from analysis.review.store import ReviewDatabaseError
from dashboard import components, compute, findings_view, labels, ml_app, session, why
from dashboard.text import md

HERE = Path(__file__).parent

# a local file, not ":material/...:": Streamlit fetches material favicons from a font CDN
st.set_page_config(page_title="noiselens", page_icon=str(HERE / "assets" / "favicon.png"),
                   layout="wide")
if ml_app.wanted():  # noiselens dashboard --multi-label (#28): its own pages
    ml_app.main()
    st.stop()


@st.cache_data(show_spinner=False, max_entries=8)
def _columns(path: str, mtime: float) -> list[str]:
    return read_columns(path)  # a Parquet file's schema only, not its rows


def _column_choices(path: Path, label_default: str | None, id_default: str | None = None,
                    text_default: str | None = None) -> dict:
    """Column mapping widgets for a file source; returns the choices made."""
    try:
        columns = _columns(str(path), path.stat().st_mtime)
    except (DataError, OSError) as exc:
        st.sidebar.error(md(exc))
        st.stop()
    lower = {c.lower(): c for c in columns}
    guess = label_default if label_default in columns else next(
        (lower[n] for n in ("label", "labels", "given_label", "target", "class", "y")
         if n in lower), columns[-1])
    with st.sidebar.expander("Columns", expanded=label_default is None):
        label = st.selectbox("Label column", columns, index=columns.index(guess),
                             key=f"label_col:{path}")
        others = [c for c in columns if c != label]
        id_guess = id_default if id_default in others else next(
            (lower[n] for n in ("id", "row_id", "uid", "example_id")
             if n in lower and lower[n] != label), None)
        id_col = st.selectbox("Id column", [None, *others],
                              index=([None, *others].index(id_guess) if id_guess else 0),
                              format_func=lambda c: "row number" if c is None else c,
                              key=f"id_col:{path}")
        text_col = st.selectbox("Text column", [None, *others],
                                index=[None, *others].index(text_default)
                                if text_default in others else 0,
                                format_func=lambda c: "inferred" if c is None else c,
                                key=f"text_col:{path}")
    return {"label_column": label, "id_column": id_col, "text_column": text_col}


def choose_source() -> compute.Source:
    args = session.launch_options()
    st.sidebar.markdown("### Data")
    options = ["sample", "upload"] + (["cli"] if args.data else [])
    labels = {"sample": "Bundled sample", "upload": "Upload a file",
              "cli": "File from command line"}
    # an upload named in the URL (a refresh, a shared link) reopens it
    # (kept in the session too: moving to another page must not lose it)
    kept = session.upload_from_ref(st.query_params.get("upload")
                                   or st.session_state.get("_upload_ref"))
    default = "upload" if kept is not None else "cli" if args.data else "sample"
    kind = st.sidebar.radio("Source", options, index=options.index(default),
                            format_func=labels.get, key="source_kind", label_visibility="collapsed")
    if kind == "sample":
        names = samples.names()
        wanted = st.query_params.get("sample", args.sample or "digits")
        name = st.sidebar.selectbox("Sample", names,
                                    index=names.index(wanted) if wanted in names else 0,
                                    key="sample_name")
        session.set_query("sample", name)
        session.set_query("upload", None)
        st.session_state.pop("_upload_ref", None)
        return compute.Source("sample", name)
    session.set_query("sample", None)
    if kind == "cli":
        session.set_query("upload", None)
        st.session_state.pop("_upload_ref", None)
        path = Path(args.data)
        flags = {"pred_probs": args.pred_probs, "embeddings": args.embeddings,
                 "class_names": args.class_names, "min_class_size": args.min_class_size}
        if path.is_dir():  # an image folder: the label is the sub-folder, the id the path
            return compute.Source("file", str(path), **flags)
        if not path.is_file():
            st.sidebar.error(f"{md(path)}: no such file or folder (given with --data).")
            st.stop()
        choices = _column_choices(path, args.label_col, args.id_col, args.text_col)
        return compute.Source("file", str(path), **choices, **flags)
    upload = st.sidebar.file_uploader("CSV or Parquet", type=["csv", "tsv", "parquet", "pq"],
                                      key="upload_data")
    extra = {}
    with st.sidebar.expander("Optional: predicted probabilities, embeddings"):
        for key, what in (("pred_probs", "pred_probs (.npy, N x K)"),
                          ("embeddings", "embeddings (.npy, N x D)")):
            f = st.file_uploader(what, type=["npy"], key=f"upload_{key}")
            if f is not None:
                saved = session.save_upload(f.getvalue(), f.name)
            else:  # reopened from the URL (or this session) with the main file
                saved = session.upload_from_ref(st.query_params.get(f"upload_{key}")
                                                or st.session_state.get(f"_upload_{key}_ref"))
                if upload is not None or kept is None:
                    saved = None
            ref = session.upload_ref(saved) if saved is not None else None
            if ref is not None:
                extra[key] = str(saved)
                st.session_state[f"_upload_{key}_ref"] = ref
            else:
                st.session_state.pop(f"_upload_{key}_ref", None)
            session.set_query(f"upload_{key}", ref)
    if upload is not None:
        path = session.save_upload(upload.getvalue(), upload.name)
    elif kept is not None:
        path = kept
        st.sidebar.caption(f"Reopened the uploaded file **{md(path.name)}** (named in the URL).")
    else:
        session.set_query("upload", None)
        st.session_state.pop("_upload_ref", None)
        st.info("Upload a CSV or Parquet file with a label column (and features, a text column "
                "or image paths) in the sidebar, or pick a bundled sample.")
        st.stop()
    session.set_query("upload", session.upload_ref(path))
    st.session_state["_upload_ref"] = session.upload_ref(path)
    return compute.Source("file", str(path), **_column_choices(path, None), **extra)


def choose_methods() -> tuple[str, str]:
    st.sidebar.markdown("### Method")
    filters = [*labels.FILTER_LABELS, *labels.DETECTOR_LABELS]
    ranks = list(labels.RANK_LABELS)
    q_filter = st.query_params.get("filter", filters[0])
    q_rank = st.query_params.get("rank", ranks[0])
    filter_by = st.sidebar.selectbox(
        "Flag rows by", filters, index=filters.index(q_filter) if q_filter in filters else 0,
        format_func={**labels.FILTER_LABELS, **labels.DETECTOR_LABELS}.get, key="filter_by",
        help="How confident learning decides which labels are wrong (Northcutt et al., 2021); "
             "the combined detector cleans the flagged rows and fits the model again first "
             "(better on the benchmark, about 3x the fitting time of one fit, once: cached; "
             "docs/benchmarks.md, Why flagged: the combined detector measured).")
    rank_by = st.sidebar.selectbox(
        "Rank suspects by", ranks, index=ranks.index(q_rank) if q_rank in ranks else 0,
        format_func=labels.RANK_LABELS.get, key="rank_by",
        help="Label quality score: low = likely wrong.")
    session.set_query("filter", filter_by, filters[0])
    session.set_query("rank", rank_by, ranks[0])
    return filter_by, rank_by


PAGES = [
    st.Page(HERE / "app_pages" / "overview.py", title="Overview", icon=":material/dashboard:",
            url_path="home", default=True),
    st.Page(HERE / "app_pages" / "noise_matrix.py", title="Noise matrix",
            icon=":material/grid_on:", url_path="noise_matrix"),
    st.Page(HERE / "app_pages" / "embedding_map.py", title="Embedding map",
            icon=":material/scatter_plot:", url_path="embedding_map"),
    st.Page(HERE / "app_pages" / "suspects.py", title="Suspects", icon=":material/search:",
            url_path="suspects"),
    st.Page(HERE / "app_pages" / "slices.py", title="Noise by slice", icon=":material/pie_chart:",
            url_path="slices"),
    st.Page(HERE / "app_pages" / "review_export.py", title="Review & export",
            icon=":material/task_alt:", url_path="review_export"),
    st.Page(HERE / "app_pages" / "annotators.py", title="Annotators",
            icon=":material/groups:", url_path="annotators"),
    st.Page(HERE / "app_pages" / "evaluate.py", title="Evaluate", icon=":material/science:",
            url_path="evaluate"),
]

# the default page is served at "/" (its own pathname is reserved but unused): /overview, the
# name users expect, switches to it
_OVERVIEW_ALIAS = st.Page(lambda: st.switch_page(PAGES[0], query_params=st.query_params.to_dict()),
                          title="Overview", url_path="overview", visibility="hidden")
page = st.navigation([*PAGES, _OVERVIEW_ALIAS])
st.html(components.RUNNING_BAR)
source = choose_source()
filter_by, rank_by = choose_methods()
try:
    dataset = compute.load(source)
    result = compute.analysis_for(dataset, labels.DETECTOR_FILTER.get(filter_by, filter_by),
                                  rank_by)
except (DataError, ValueError) as exc:
    st.error(f"**This data cannot be analysed yet.** {md(exc)}")
    st.caption("Fix the file or choose other columns in the sidebar; nothing was changed.")
    st.stop()
try:
    compute.review_store(dataset)  # every page reads decisions: a damaged database, said once
except ReviewDatabaseError as exc:
    st.error(f"**The review decisions cannot be read.** {md(exc)}")
    st.stop()
if dataset.annotator_columns:
    use = st.sidebar.toggle(
        "Use the annotators' consensus as the label", key="use_consensus",
        value=st.query_params.get("consensus") == "1",
        help="Analyse the quality-weighted vote of the annotator columns instead of the "
             "label column (rows nobody rated keep their label).")
    session.set_query("consensus", "1" if use else None)
    if use:
        result = compute.with_consensus(dataset, result)
for note in dataset.notes:  # what the loading set aside (an image too large to decode)
    st.warning(md(note), icon=":material/image_not_supported:")
order = dataset.class_order
if order is not None and order.suspicious:
    st.warning(md(order.message(dataset.source)), icon=":material/swap_horiz:")
result = why.detector_result(dataset, result, filter_by)  # the combined detector, if chosen
session.publish(source, dataset, result)
findings_view.slice_selector(dataset)  # #17: noise by slice
st.sidebar.caption(
    f"{md(source.title)} · {len(dataset):,} rows · {dataset.num_classes} classes · probabilities: "
    f"{result.probabilities_source}"
)
page.run()
