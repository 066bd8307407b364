"""What several pages show the same way: errors in the words of the page, uploads read safely, a
method's title, the trained head as a download."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import streamlit as st

#: How to make a column choice on the Data page (the words on screen; the CLI names its flags).
PAGE_HINTS = {
    "embedding": 'Fill in "Embedding columns (optional)" with their prefix (e.g. emb_) or a comma-separated list.',
    "vector": 'Fill in "Embedding columns (optional)" with the name of the column that holds the vectors.',
}


def show_error(exc: Exception) -> None:
    """A readable message, never a traceback; column choices say which field to fill in."""
    from embaug_core.errors import ColumnChoiceError

    hint = f" {PAGE_HINTS[exc.choice]}" if isinstance(exc, ColumnChoiceError) else ""
    st.error(f"{exc}{hint}", icon=":material/error:")


def read_upload(upload):
    """Parse an uploaded table (embaug_core.data.table.read_table), or show why not and return None."""
    from embaug_core.data.table import read_table
    from embaug_core.errors import EmbaugError

    if upload is None:
        return None
    try:
        return read_table(upload.getvalue(), name=upload.name)
    except EmbaugError as exc:
        show_error(exc)
        return None


def head_zip(head) -> bytes:
    """The trained head as ZIP bytes for a download button: every file :meth:`TrainedHead.save` writes
    (the weights, head.json and the none scores' bank), in one folder, so that ``embaug predict`` and
    ``TrainedHead.load`` read the unzipped folder as they read a saved head."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        head.save(tmp)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(Path(tmp).iterdir()):
                z.write(path, arcname=f"embaug-head/{path.name}")
        return buf.getvalue()


def method_title(name: str) -> str:
    """A method's or baseline's title ("e_stitchup" → "E-Stitchup"); a name this version does not know (a
    run saved by another version) as it is."""
    from embaug_core.errors import EmbaugError
    from embaug_core.experiment.config import entry_title

    try:
        return entry_title(name)
    except EmbaugError:
        return name
