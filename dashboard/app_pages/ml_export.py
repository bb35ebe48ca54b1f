"""Multi-label export (#28): the cleaned split with the suggested tag sets on the flagged rows,
in the input's own form, with the change list; written to the export folder and offered as
downloads."""

from pathlib import Path

import streamlit as st

from dashboard import ml_compute, multilabel_cli, session
from dashboard.text import md

source, key, result = session.current_multilabel()

st.title("Export")
changes = multilabel_cli.changes_frame(result, result.suggested)
rows = len(result.ids)
added = int((result.suggested > result.labels).sum())
removed = int((result.suggested < result.labels).sum())
st.markdown(f"**{rows:,}** rows in → **{rows:,}** rows out: **{len(changes):,}** rows get their "
            f"suggested tags ({added:,} tags added, {removed:,} removed); every other row is "
            "written as it was.")
form = result.tags.form
st.caption(f"The cleaned split is written as the input is ({md(form)} tags, "
           f"{md(result.origin.kind if result.origin is not None else 'csv')}): only the "
           "flagged rows' tag cells change.")

st.subheader("Changes")
st.dataframe(changes, hide_index=True, height=300, key="ml_changes",
             column_config={"row": st.column_config.NumberColumn(format="%d")})

folder = session.export_dir() / ml_compute.export_stem(result)
# the folder is chosen at launch (--export-dir), never typed into the page
st.caption(f"Files are written to {md(folder)} on the machine running noiselens (choose another "
           "folder at launch with `noiselens dashboard --export-dir DIR`) and offered below as "
           "downloads.")
if st.button("Export", type="primary", icon=":material/download:", key="ml_export_go"):
    try:
        with st.spinner("Writing the cleaned split and the change list…"):
            written = ml_compute.export_files(result, folder)
        st.session_state["ml_last_export"] = [str(p) for p in written]
    except (OSError, ValueError) as exc:
        st.error(f"**The export failed.** {md(exc)}")
last = st.session_state.get("ml_last_export")
if last and all(Path(p).exists() for p in last):
    st.success("Exported: " + ", ".join(md(Path(p).name) for p in last))

st.subheader("Downloads")
files = ml_compute.download_bytes(key, result)
mimes = {".csv": "text/csv", ".tsv": "text/tab-separated-values", ".json": "application/json",
         ".parquet": "application/octet-stream"}
cols = st.columns(3)
for n, (name, data) in enumerate(files.items()):
    cols[n % 3].download_button(md(name), data, file_name=name,
                                mime=mimes.get(Path(name).suffix, "text/plain"),
                                key=f"ml_dl_{n}", icon=":material/file_download:")
