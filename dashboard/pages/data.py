"""Data: choose the bundled sample or upload an embedding table; choose how 'none' is simulated."""

import streamlit as st

from dashboard import data_forms, state
from embaug_core.plots import class_counts_figure

st.title("Data")
st.caption(
    "An embedding table: a label column, optionally an id column, and the embedding as numeric columns "
    "or one vector column. Other columns (say, the source text) are kept beside it."
)

# The choice is kept apart from the radio: Streamlit drops a widget's state on pages that do not draw it, so
# a choice made elsewhere (a run opened on the Runs page) would not reach the radio.
kept = st.session_state.get(state.DATA_SOURCE, "Bundled sample")
if st.session_state.get("data_source") != kept:
    st.session_state["data_source"] = kept


def source_changed() -> None:
    st.session_state.pop(data_forms.PREVIEW, None)
    st.session_state[state.DATA_SOURCE] = st.session_state["data_source"]


source = st.radio(
    "Source",
    ["Bundled sample", "Upload a file", "Raw text", "Images (ZIP)"],
    horizontal=True,
    key="data_source",
    help="Raw text and images are embedded here with offline models.",
    on_change=source_changed,
)
if source == "Bundled sample":
    if st.session_state[state.DATASET_NAME] != state.SAMPLE_NAME and st.button("Use the bundled sample"):
        state.set_dataset(state.sample_dataset(), state.SAMPLE_NAME)
        st.rerun()
    st.caption(
        "CLINC150 intents (150 classes, 100 rows each) embedded with all-MiniLM-L6-v2; see sample_data/README.md."
    )
elif source == "Raw text":
    data_forms.raw_text_form()
elif source == "Images (ZIP)":
    data_forms.image_zip_form()
else:
    data_forms.table_form()

if source in ("Raw text", "Images (ZIP)") and data_forms.PREVIEW in st.session_state:
    data_forms.embedded_preview()

ds = state.dataset()
summary = ds.summary()
st.subheader(st.session_state[state.DATASET_NAME])
c1, c2, c3, c4 = st.columns(4)
c1.metric("Rows", f"{summary['rows']:,}")
c2.metric("Dimension", summary["dim"])
c3.metric("Classes", summary["classes"])
c4.metric("Unlabelled rows", summary["unlabelled_rows"])
n_classes_all = len(summary["class_counts"])
show_all = n_classes_all > 60 and st.toggle(f"Show all {n_classes_all} classes", key="show_all_classes")
st.plotly_chart(class_counts_figure(summary["class_counts"], top=None if show_all else 60), width="stretch")
with st.expander("Preview (first 20 rows)"):
    st.dataframe(ds.to_dataframe().iloc[:20, : 3 + len(ds.extra.columns) + 4], hide_index=True)

data_forms.none_protocol_form(ds)
data_forms.none_examples_section()
