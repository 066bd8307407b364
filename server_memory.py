"""The dashboard server's memory housekeeping (Streamlit-side; the library knows nothing of it).

benchmarks/soak.py measures what it gives back: sessions that closed, their uploads and results,
returned to the system once Streamlit's ``server.disconnectedSessionTTL`` has passed.
"""

from __future__ import annotations

import time

import streamlit as st


@st.cache_resource
def trimmer() -> object:
    """One thread per server: every 30 s, shut down expired closed sessions
    (:func:`close_expired_sessions`), collect garbage and hand freed heap pages back to the OS
    (glibc's ``malloc_trim``; a no-op where glibc is absent). glibc keeps freed small-block memory
    in the process: without the trim, RSS stayed at its peak after sessions closed
    (benchmarks/soak.py)."""
    import ctypes
    import gc
    import threading

    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        trim = None

    def loop() -> None:
        while True:
            time.sleep(30)
            close_expired_sessions()
            gc.collect()
            if trim is not None:
                trim(0)

    thread = threading.Thread(target=loop, name="embaug-memory-trim", daemon=True)
    thread.start()
    return thread


def close_expired_sessions(runtime=None) -> None:
    """Shut down closed sessions whose ``server.disconnectedSessionTTL`` has run out.

    Streamlit keeps a closed session (for a reconnect) in a TTL cache that drops expired entries
    only when another session closes, and drops them without shutting them down: the session's
    uploaded files, dataframe sources and media stay in the server's managers for good
    (Streamlit 1.67; ``AppSession.shutdown`` is what releases them). benchmarks/soak.py saw the
    server grow round after round from this. So, on Streamlit's event loop (where sessions are
    managed) and under its storage lock: expire the cache, then shut down what it removed.
    These are Streamlit internals, so every step is guarded: where one is missing (another
    version, AppTest without a server) this does nothing.
    """
    try:
        if runtime is None:
            from streamlit.runtime import Runtime

            runtime = Runtime.instance()
        manager = runtime._session_mgr
        lock, cache = manager._storage_lock, manager._session_storage._cache
        loop = runtime._get_async_objs().eventloop
    except Exception:  # noqa: BLE001 - housekeeping must never take the server down
        return

    def on_loop() -> None:
        try:
            with lock:
                removed = cache.expire()
            for _, info in removed:
                info.session.shutdown()
        except Exception:  # noqa: BLE001
            pass

    try:
        loop.call_soon_threadsafe(on_loop)
    except RuntimeError:  # the loop is closed: the server is stopping
        pass
