"""The dashboard's pages, run by ``st.navigation`` from ``app.py``."""
