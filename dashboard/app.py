"""noiselens dashboard entry point."""

import streamlit as st

st.set_page_config(page_title="noiselens", layout="wide")
st.title("noiselens")
st.info(
    "The dashboard pages are being built (issue: the dashboard). The analysis package works "
    "today: `import analysis` and see the README."
)
