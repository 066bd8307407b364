"""embaug dashboard: the front door. Page config, session state, navigation."""

import streamlit as st

import ui

st.set_page_config(page_title="embaug", page_icon=":material/hub:", layout="wide")
ui.init_state()

# The pages live in views/, not pages/: Streamlit treats a pages/ folder as the old automatic
# navigation, and a fresh server could run such a page on its own, without this script (seen after
# a server restart: no session state, the files' names in the sidebar).
pages = [
    st.Page("views/1_data.py", title="Data", icon=":material/table_chart:", default=True),
    st.Page("views/2_train.py", title="Train", icon=":material/model_training:"),
    st.Page("views/3_calibration.py", title="Calibration", icon=":material/straighten:"),
    st.Page("views/4_threshold.py", title="Threshold", icon=":material/tune:"),
    st.Page("views/5_queue.py", title="Labelling queue", icon=":material/label:"),
    st.Page("views/6_runs.py", title="Runs", icon=":material/history:"),
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
