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
    "analysis.review.evaluate",
    "analysis.review.findings",
    "analysis.export.split",
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


def no_external_ip_lookup() -> None:
    """Make Streamlit's external-IP lookup answer None without asking anyone.

    Listening on every interface (``--host 0.0.0.0``), Streamlit's start-up banner asks
    ``checkip.amazonaws.com`` for the machine's public address ("External URL",
    ``streamlit.web.bootstrap._print_url``), and so does its origin check when a browser
    comes from an address it does not know (``server_util.is_url_from_allowed_origins``): a
    request off the machine, at run time. No Streamlit option turns it off
    (``browser.serverAddress`` skips the banner's lookup, not the origin check's), so the
    function is replaced: None is what Streamlit itself answers when the request fails, and
    then the banner shows no External URL and an unknown origin is refused. The local
    network address (``get_internal_ip``: a UDP socket "connected" to 8.8.8.8, which sends no
    packet) is kept: the origin check needs it for a browser on the local network.
    """
    from streamlit import net_util

    net_util.get_external_ip = lambda: None


def main() -> None:
    """Import the pages' modules, then run Streamlit's command line (``sys.argv``)."""
    _preload()
    no_external_ip_lookup()
    from streamlit.web.cli import main as streamlit_main

    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
