"""``python -m dashboard.serve run APP [flags]``: Streamlit's own command line, with the app's
modules imported in the background while the server starts.

Streamlit imports a page's modules on the first script run, so the first visitor after a
(re)start waits for numpy, pandas, scikit-learn, scipy, numba, plotly and this package to be
imported (1-1.5 s on 2 cores) on top of the page itself. Here a daemon thread imports them as
soon as the process starts; by the time a browser connects they are in ``sys.modules`` (an
import still in progress is simply waited for by the script run). A module that fails to
import is left to the script run, which shows the error on the page.
"""

from __future__ import annotations

import threading

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
    """Start the preload thread, then run Streamlit's command line (``sys.argv``)."""
    threading.Thread(target=_preload, name="noiselens-preload", daemon=True).start()
    from streamlit.web.cli import main as streamlit_main

    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
