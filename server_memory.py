"""The dashboard server's memory housekeeping (Streamlit-side; the library knows nothing of it).

benchmarks/soak.py measures what it gives back: sessions that closed, their uploads and results,
returned to the system once Streamlit's ``server.disconnectedSessionTTL`` has passed.
"""

from __future__ import annotations

import os
import threading
import time

import streamlit as st

#: How often the housekeeping runs (seconds). Closed sessions are released at most this long after
#: their ``server.disconnectedSessionTTL`` (60 s, .streamlit/config.toml) has run out.
TICK_S = 10.0


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return float("nan")


def _sessions() -> str:
    try:
        from streamlit.runtime import Runtime

        manager = Runtime.instance()._session_mgr
        kept = len(manager._session_storage._cache._data)
        return f"active={len(manager._active_session_info_by_id)} closed_kept={kept}"
    except Exception:  # noqa: BLE001 - a log line only
        return ""


@st.cache_resource
def trimmer() -> object:
    """One thread per server: every :data:`TICK_S` seconds, shut down expired closed sessions
    (:func:`close_expired_sessions`), collect garbage and hand freed heap pages back to the OS
    (glibc's ``malloc_trim``; a no-op where glibc is absent). glibc keeps freed small-block memory
    in the process: without the trim, RSS stayed at its peak after sessions closed
    (benchmarks/soak.py). ``EMBAUG_MEMORY_LOG=FILE`` appends one line per tick: RSS before and
    after, sessions open and closed-but-kept."""
    import ctypes
    import gc

    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        trim = None

    log = os.environ.get("EMBAUG_MEMORY_LOG")

    def loop() -> None:
        while True:
            time.sleep(TICK_S)
            closed = close_expired_sessions()
            if closed is not None:
                closed.wait(5)  # the shutdowns run on Streamlit's loop; free after them, not before
            before = _rss_mb()
            gc.collect()
            if trim is not None:
                trim(0)
            if log:
                with open(log, "a") as f:
                    after = _rss_mb()
                    f.write(f"{time.time():.0f} rss_before_mb={before:.0f} rss_after_mb={after:.0f} {_sessions()}\n")

    thread = threading.Thread(target=loop, name="embaug-memory-trim", daemon=True)
    thread.start()
    return thread


def close_expired_sessions(runtime=None) -> threading.Event | None:
    """Shut down closed sessions whose ``server.disconnectedSessionTTL`` has run out.

    Streamlit keeps a closed session (for a reconnect) in a TTL cache that drops expired entries
    only when another session closes, and drops them without shutting them down: the session's
    uploaded files, dataframe sources and media stay in the server's managers for good
    (Streamlit 1.67; ``AppSession.shutdown`` is what releases them). benchmarks/soak.py saw the
    server grow round after round from this. So, on Streamlit's event loop (where sessions are
    managed) and under its storage lock: expire the cache, then shut down what it removed.
    These are Streamlit internals, so every step is guarded: where one is missing (another
    version, AppTest without a server) this does nothing. Returns an event set once the loop has
    done it (None when nothing was scheduled).
    """
    try:
        if runtime is None:
            from streamlit.runtime import Runtime

            runtime = Runtime.instance()
        manager = runtime._session_mgr
        lock, cache = manager._storage_lock, manager._session_storage._cache
        loop = runtime._get_async_objs().eventloop
    except Exception:  # noqa: BLE001 - housekeeping must never take the server down
        return None
    done = threading.Event()

    def on_loop() -> None:
        try:
            with lock:
                removed = cache.expire()
            for _, info in removed:
                info.session.shutdown()
        except Exception:  # noqa: BLE001
            pass
        finally:
            done.set()

    try:
        loop.call_soon_threadsafe(on_loop)
    except RuntimeError:  # the loop is closed: the server is stopping
        return None
    return done
