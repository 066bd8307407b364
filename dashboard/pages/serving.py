"""Serving embaug to a team: the docs page (docs/serving.md), shown in the dashboard that the single-user
banner links from, so that the link works on a server with no internet."""

import streamlit as st

from dashboard import auth, state

settings = auth.team()
if settings.signin:
    st.success(f"Sign-in is on: you are signed in as **{auth.user()}**.", icon=":material/lock:")
else:
    st.info("Sign-in is off: this dashboard is a single-user app.", icon=":material/lock_open:")
st.markdown((state.ROOT / "docs" / "serving.md").read_text())
