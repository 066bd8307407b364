"""embaug dashboard: the front door. Page config, session state, navigation."""

import streamlit as st

from dashboard import auth, state

st.set_page_config(page_title="embaug", page_icon=":material/hub:", layout="wide")
if not auth.gate():  # sign-in turned on and nobody signed in (or it cannot work): nothing else is drawn
    st.stop()
state.init_state()

# The pages live in dashboard/pages/, not in a pages/ folder beside this script: Streamlit treats such
# a folder as the old automatic navigation, and a fresh server could run a page on its own, without
# this script (seen after a server restart: no session state, the files' names in the sidebar).
pages = [
    st.Page("dashboard/pages/data.py", title="Data", icon=":material/table_chart:", default=True),
    st.Page("dashboard/pages/experiment.py", title="Experiment", icon=":material/model_training:"),
    st.Page("dashboard/pages/calibration.py", title="Calibration", icon=":material/straighten:"),
    st.Page("dashboard/pages/threshold.py", title="Threshold", icon=":material/tune:"),
    st.Page("dashboard/pages/queue.py", title="Labelling queue", icon=":material/label:"),
    st.Page("dashboard/pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page(auth.SERVING_PAGE, title="Serving to a team", icon=":material/groups:"),
]
sidebar = st.sidebar.container()
try:
    page = st.navigation(pages)
    auth.single_user_banner()  # above every page; after st.navigation, which its link needs
    page.run()
except state.PageEnd:
    pass  # the page ended early, having said why
finally:
    # Filled after the page ran (also when it stopped early), so that a change of data or
    # protocol made on this run shows here at once, not one interaction later.
    with sidebar:
        st.caption(f"Data: **{st.session_state[state.DATASET_NAME]}**")
        st.caption(f"'none' simulated as: {st.session_state[state.PROTOCOL].describe()}")
