"""embaug dashboard: the front door. Page config, session state, navigation."""

import streamlit as st

import ui

st.set_page_config(page_title="embaug", page_icon=":material/hub:", layout="wide")
ui.init_state()

pages = [
    st.Page("pages/1_data.py", title="Data", icon=":material/table_chart:", default=True),
    st.Page("pages/2_train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/3_calibration.py", title="Calibration", icon=":material/straighten:"),
    st.Page("pages/4_threshold.py", title="Threshold", icon=":material/tune:"),
    st.Page("pages/5_queue.py", title="Labelling queue", icon=":material/label:"),
    st.Page("pages/6_runs.py", title="Runs", icon=":material/history:"),
]
sidebar = st.sidebar.container()
try:
    st.navigation(pages).run()
finally:
    # Filled after the page ran (also when it stopped early), so that a change of data or
    # protocol made on this run shows here at once, not one interaction later.
    with sidebar:
        st.caption(f"Data: **{st.session_state[ui.DATASET_NAME]}**")
        st.caption(f"'none' simulated as: {st.session_state[ui.PROTOCOL].describe()}")
