"""Dataset text is data, never markup.

Class names, ids, text cells, column and file names come from the user's file and may hold
anything: ``![x](http://host/x.png)`` (Markdown that loads an image), ``:red[x]`` or
``:material/x:`` (Streamlit directives), ``<span style="fill:url(http://host)">`` (plotly's
label HTML passes ``style`` through and the browser fetches the URL), ``%{x}`` (a plotly
hover-template field), a bare URL (auto-linked), right-to-left overrides that reverse the rest
of the line. Two escapers, one per renderer:

* :func:`md` for every Streamlit element that renders Markdown (``st.markdown``,
  ``st.caption``, titles, ``st.metric``, ``st.info`` and friends, ``st.radio`` options, button,
  expander and popover labels, ``st.image`` captions, toasts);
* :func:`plot` for every string plotly draws (axis categories, legend names, titles, bar text,
  hover templates) in the dashboard and in the HTML report.

Plain-text widgets (``st.selectbox``, ``st.multiselect``, ``st.dataframe`` cells,
``st.text_area``) show their value as text and need neither.
"""

from __future__ import annotations

import html
import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$&:\"'=,;?@/^%])")
# Patterns that Streamlit's Markdown pipeline turns into links, icons or emoji *after* escapes
# are resolved (they match decoded text): break them with an invisible WORD JOINER.
_WJ = "\u2060"
# A colon followed by a space or the end starts no link (``http:``), icon (``:material/x:``),
# emoji (``:smile:``) or colour directive (``:red[...]``): it is left alone, so that an error
# text does not carry a U+2060 after every "file: message" colon into a copy-paste.
_AUTOLINK = re.compile(r"(?i)(:)(?=\S)|(@)|(w)(?=ww\.)")
# Invisible characters that reorder or hide text (bidi overrides, embeddings and isolates,
# zero-width space, word joiner, BOM): shown as a visible code, so that two names that look
# the same but differ, or a name that reverses the line, are seen for what they are.
_HIDDEN = re.compile("[\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff]")
# Direction marks that real right-to-left text uses: kept, inside an isolate.
_BIDI = re.compile("[\u200e\u200f\u061c]")
_FSI, _PDI = "\u2068", "\u2069"


def visible(text: str) -> str:
    """Hidden format characters as ``[U+202E]``; text with direction marks isolated."""
    text = _HIDDEN.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
    return f"{_FSI}{text}{_PDI}" if _BIDI.search(text) else text


def html_text(value) -> str:
    """``value`` as literal text in an HTML document (the report): :func:`visible`, then
    ``html.escape`` (quotes included, safe in attributes too)."""
    return html.escape(visible(str(value)), quote=True)


def md(value) -> str:
    """``value`` as literal text inside Streamlit Markdown.

    Parameters
    ----------
    value : object
        Anything; converted with ``str``.

    Returns
    -------
    str
        Markdown that renders exactly ``str(value)``: punctuation backslash-escaped, auto-link,
        icon and emoji patterns broken by an invisible word joiner, newlines as spaces, hidden
        format characters shown as ``[U+XXXX]``.
    """
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    text = _AUTOLINK.sub(lambda m: m.group() + _WJ, visible(text))
    return _MD_SPECIAL.sub(r"\\\1", text)


def plot(value) -> str:
    """``value`` as literal text in a plotly label (its pseudo-HTML).

    ``&``, ``<`` and ``>`` become entities (plotly decodes them for display, so the text reads
    as given, and no tag is ever parsed: no ``style``, no link); ``%`` becomes ``&#37;`` so a
    name cannot inject a hover-template field; hidden format characters show as
    ``[U+XXXX]``.
    """
    return html.escape(visible(str(value)), quote=False).replace("%", "&#37;")


def plot_all(values) -> list[str]:
    """:func:`plot` of every value, in order."""
    return [plot(v) for v in values]
