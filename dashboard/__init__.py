"""The Streamlit dashboard: what ``app.py`` (the front door) and its pages are made of.

* :mod:`dashboard.state` — one browser session's state: data, protocol, results, thresholds per head;
* :mod:`dashboard.training` — trainings as server-side jobs in the server-wide queue, and their progress;
* :mod:`dashboard.widgets` — errors in the page's words, safe uploads, downloads;
* :mod:`dashboard.components` — the threshold marker that moves in the browser;
* :mod:`dashboard.server` — the server's memory housekeeping;
* :mod:`dashboard.pages` — the pages: they read widgets, call ``embaug_core`` and render.

Nothing here computes: the numbers come from ``embaug_core``, which never imports Streamlit.
"""
