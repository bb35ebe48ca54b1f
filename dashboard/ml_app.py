"""The multi-label shell of the dashboard (#28): the sidebar, the analysis and the pages.

``noiselens dashboard --multi-label ...`` (the flags of ``noiselens analyze --multi-label``)
or ``--sample digits_tags`` opens the app in this mode: :func:`main` runs instead of the
single-label shell of :mod:`dashboard.app`, computes (or takes from the cache) the
:class:`~analysis.multilabel_pipeline.MultilabelAnalysis` and shows the multi-label pages.
What is read is chosen at launch only.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from analysis.core.multilabel import ML_FILTERS
from analysis.data.dataset import DataError
from dashboard import components, labels, ml_compute, session
from dashboard.text import md

HERE = Path(__file__).parent

#: The multi-label pages: (file, title, icon, URL path); the first is the default.
PAGES = (
    ("ml_overview.py", "Overview", ":material/dashboard:", "home"),
    ("ml_suspects.py", "Suspects", ":material/search:", "suspects"),
    ("ml_export.py", "Export", ":material/download:", "export"),
)


def pages() -> list:
    """The navigation's pages (built per run: ``st.Page`` checks its file)."""
    return [st.Page(HERE / "app_pages" / f, title=t, icon=i, url_path=u, default=n == 0)
            for n, (f, t, i, u) in enumerate(PAGES)]


def wanted() -> bool:
    """True when the launch options ask for the multi-label pages."""
    return ml_compute.wanted(session.launch_options())


def choose_filter() -> str:
    """The filter of the one-vs-rest confident learning, from the sidebar (and the URL)."""
    st.sidebar.markdown("### Method")
    filters = list(ML_FILTERS)
    asked = st.query_params.get("filter", filters[0])
    chosen = st.sidebar.selectbox(
        "Flag tags by", filters, index=filters.index(asked) if asked in filters else 0,
        format_func=lambda f: labels.FILTER_LABELS.get(f, f), key="ml_filter_by",
        help="Confident learning on every class as its own yes/no problem (one-vs-rest): "
             "a tag is flagged when the model is confident it is missing or extra.")
    session.set_query("filter", chosen, filters[0])
    return chosen


def main() -> None:
    """Run one page of the multi-label app."""
    page = st.navigation(pages())
    st.html(components.RUNNING_BAR)
    args = session.launch_options()
    problem = ml_compute.check_options(args)
    if problem:
        st.error(f"**The multi-label pages cannot open.** {md(problem)}")
        st.stop()
    unused = [f for f, v in (("--embeddings", args.embeddings),
                             ("--min-class-size", args.min_class_size)) if v is not None]
    if unused:
        st.sidebar.caption(f"{', '.join(unused)}: not used by the multi-label pages.")
    source = ml_compute.MultilabelSource.from_options(args, choose_filter())
    try:
        with st.spinner("Fitting the per-class model out of fold and flagging the tags "
                        "(once per dataset: cached)…"):
            key, result = ml_compute.analysis_for(source)
    except (DataError, ValueError, KeyError, OSError) as exc:
        st.error(f"**This data cannot be analysed yet.** {md(exc)}")
        st.caption("Fix the file or the launch flags; nothing was changed.")
        st.stop()
    for note in result.notes:  # what the reading noticed (valid, worth knowing)
        st.sidebar.caption(f":material/info: {md(note)}")
    session.publish_multilabel(source, key, result)
    st.sidebar.caption(
        f"{md(source.title)} · multi-label · {len(result.ids):,} rows · "
        f"{len(result.class_names)} tags · probabilities: {md(result.probabilities_source)}")
    page.run()
