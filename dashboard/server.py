"""The dashboard server's memory housekeeping (Streamlit-side; the library knows nothing of it).

benchmarks/soak.py measures what it gives back: sessions that closed, their uploads and results,
returned to the system once Streamlit's ``server.disconnectedSessionTTL`` has passed.

Releasing closed sessions needs Streamlit internals (private names, :data:`INTERNALS`). They are
checked once, when the housekeeping starts; where one is missing (another Streamlit version) the
server logs one line saying so and goes on without that part.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import streamlit as st

#: How often the housekeeping runs (seconds; ``EMBAUG_HOUSEKEEPING_S`` overrides it). Closed sessions are
#: released at most this long after their ``server.disconnectedSessionTTL`` (60 s, .streamlit/config.toml).
TICK_S = 10.0

#: What :func:`close_expired_sessions` reaches into, as it reaches (Streamlit 1.67).
INTERNALS = (
    "Runtime.instance()._session_mgr",
    "SessionManager._storage_lock",
    "SessionManager._session_storage._cache",
    "TTLCache.expire",
    "AppSession.shutdown",
    "Runtime._get_async_objs().eventloop",
)

log = logging.getLogger("embaug.dashboard")


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return float("nan")


def _sessions(runtime) -> str:
    """Sessions open and closed-but-kept, for the memory log (empty where the internals are missing)."""
    try:
        manager = runtime._session_mgr
        kept = len(manager._session_storage._cache._data)
        return f"active={len(manager._active_session_info_by_id)} closed_kept={kept}"
    except AttributeError:
        return ""


def _runtime():
    """The server's Streamlit runtime, or None where no server runs (bare scripts; AppTest, whose runtime
    is a stand-in)."""
    from streamlit.runtime import Runtime

    runtime = Runtime.instance() if Runtime.exists() else None
    return runtime if type(runtime) is Runtime else None  # AppTest's is a mock made with spec=Runtime


def missing_internals(runtime) -> list[str]:
    """The :data:`INTERNALS` this runtime lacks (empty when the housekeeping can release sessions)."""
    try:
        from streamlit.runtime.app_session import AppSession
        from streamlit.runtime.caching.ttl_cache import TTLCache
    except ImportError:  # another Streamlit's layout
        return list(INTERNALS)

    manager = getattr(runtime, "_session_mgr", None)
    storage = getattr(manager, "_session_storage", None)
    found = {
        INTERNALS[0]: manager is not None,
        INTERNALS[1]: hasattr(manager, "_storage_lock"),
        INTERNALS[2]: isinstance(getattr(storage, "_cache", None), TTLCache),
        INTERNALS[3]: callable(getattr(TTLCache, "expire", None)),
        INTERNALS[4]: callable(getattr(AppSession, "shutdown", None)),
        INTERNALS[5]: callable(getattr(runtime, "_get_async_objs", None)),
    }
    return [name for name, ok in found.items() if not ok]


@st.cache_resource
def housekeeping() -> threading.Thread | None:
    """One thread per server, started by the first session: every :data:`TICK_S` seconds, shut down
    expired closed sessions (:func:`close_expired_sessions`), collect garbage and hand freed heap pages
    back to the OS (glibc's ``malloc_trim``; a no-op where glibc is absent). glibc keeps freed
    small-block memory in the process: without the trim, RSS stayed at its peak after sessions closed
    (benchmarks/soak.py). ``EMBAUG_MEMORY_LOG=FILE`` appends one line per tick: RSS before and after,
    sessions open and closed-but-kept. Without a server (AppTest) there is nothing to keep: None."""
    import ctypes
    import gc

    runtime = _runtime()
    if runtime is None:
        return None
    missing = missing_internals(runtime)
    if missing:
        log.warning(
            "embaug: Streamlit %s lacks %s, so closed sessions are released only when Streamlit drops them "
            "itself (memory housekeeping: garbage collection and heap trimming only).",
            st.__version__,
            ", ".join(missing),
        )
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        trim = None
    memory_log = os.environ.get("EMBAUG_MEMORY_LOG")
    tick = _tick()

    def once() -> None:
        closed = None if missing else close_expired_sessions(runtime)
        if closed is not None:
            closed.wait(5)  # the shutdowns run on Streamlit's loop; free after them, not before
        before = _rss_mb()
        gc.collect()
        if trim is not None:
            trim(0)
        if memory_log:
            with open(memory_log, "a") as f:
                f.write(
                    f"{time.time():.0f} rss_before_mb={before:.0f} rss_after_mb={_rss_mb():.0f} {_sessions(runtime)}\n"
                )

    def loop() -> None:
        failed = False
        while True:
            time.sleep(tick)
            try:
                once()
            except Exception:  # never the end of the housekeeping: the next tick tries again
                if not failed:  # the first failure with its traceback, not one every tick
                    log.exception("embaug: a housekeeping tick failed; it goes on every %.0f s", tick)
                failed = True

    thread = threading.Thread(target=loop, name="embaug-housekeeping", daemon=True)
    thread.start()
    return thread


def _tick() -> float:
    """:data:`TICK_S`, or ``EMBAUG_HOUSEKEEPING_S`` when that is a number of seconds > 0 (tests set it low)."""
    raw = os.environ.get("EMBAUG_HOUSEKEEPING_S")
    try:
        value = float(raw) if raw else TICK_S
    except ValueError:
        value = -1.0
    if not value > 0:
        log.warning("embaug: EMBAUG_HOUSEKEEPING_S=%r is not a number of seconds > 0; using %.0f s", raw, TICK_S)
        return TICK_S
    return value


def close_expired_sessions(runtime) -> threading.Event | None:
    """Shut down closed sessions whose ``server.disconnectedSessionTTL`` has run out.

    Streamlit keeps a closed session (for a reconnect) in a TTL cache that drops expired entries
    only when another session closes, and drops them without shutting them down: the session's
    uploaded files, dataframe sources and media stay in the server's managers for good
    (Streamlit 1.67; ``AppSession.shutdown`` is what releases them). benchmarks/soak.py saw the
    server grow round after round from this. So, on Streamlit's event loop (where sessions are
    managed) and under its storage lock: expire the cache, then shut down what it removed. Returns
    an event set once the loop has done it (None when nothing was scheduled: the internals are
    missing, or the loop is closed because the server is stopping).
    """
    try:
        manager = runtime._session_mgr
        lock, cache = manager._storage_lock, manager._session_storage._cache
        loop = runtime._get_async_objs().eventloop
    except (AttributeError, RuntimeError):
        return None
    done = threading.Event()

    def on_loop() -> None:
        try:
            with lock:
                removed = cache.expire()
            for _, info in removed:
                info.session.shutdown()
        except Exception:  # housekeeping must never take the server down; the next tick tries again
            log.warning("embaug: releasing closed sessions failed; the next tick tries again", exc_info=True)
        finally:
            done.set()

    try:
        loop.call_soon_threadsafe(on_loop)
    except RuntimeError:  # the loop is closed: the server is stopping
        return None
    return done
