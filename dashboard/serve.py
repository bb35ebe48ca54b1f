"""``python -m dashboard.serve run APP [flags]``: Streamlit's own command line, with the app's
modules imported before the server starts listening.

Streamlit imports a page's modules on the first script run, so the first visitor after a
(re)start waited for numpy, pandas, scikit-learn, scipy, numba, plotly and this package to be
imported (1-1.5 s on 2 cores) on top of the page itself. Here they are imported first, in the
main thread, and the server answers once they are in ``sys.modules``. (Not in a thread beside
the server's start: plotly peeks at ``sys.modules["pandas"]`` without importing it, and a
pandas half-imported by another thread failed Streamlit's own import, intermittently.) A
module that fails to import is left to the script run, which shows the error on the page.
"""

from __future__ import annotations

#: What the pages import (dashboard/app.py and dashboard/app_pages/*.py).
PRELOAD = (
    "analysis",
    "analysis.evaluate",
    "analysis.findings",
    "analysis.export",
    "dashboard.compute",
    "dashboard.components",
    "dashboard.figures",
    "dashboard.findings_view",
    "dashboard.report",
    "dashboard.selection",
    "dashboard.session",
    "dashboard.why",
    "plotly.graph_objects",
)


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the script run imports it again and reports it
            pass


def main() -> None:
    """Import the pages' modules, then run Streamlit's command line (``sys.argv``)."""
    _preload()
    from streamlit.web.cli import main as streamlit_main

    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
