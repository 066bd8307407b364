"""The server's memory housekeeping: closed sessions past their TTL are shut down (which is what
releases their uploads), against Streamlit's own session storage and TTL cache; the real server is
tested in tests/test_browser.py (test_a_closed_session_is_released_by_the_real_server)."""

import threading
from types import SimpleNamespace

from streamlit.runtime.caching.ttl_cache import TTLCache
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.session_manager import SessionInfo

from dashboard import server


class FakeSession:
    def __init__(self, id):
        self.id, self.shut_down = id, False

    def shutdown(self):
        self.shut_down = True


def runtime_with(sessions, now):
    storage = MemorySessionStorage(ttl_seconds=60)
    clock = {"t": 0.0}
    storage._cache = TTLCache(maxsize=128, ttl=60, timer=lambda: clock["t"])
    for s, closed_at in sessions:
        clock["t"] = closed_at
        storage.save(SessionInfo(client=None, session=s))
    clock["t"] = now
    loop = SimpleNamespace(call_soon_threadsafe=lambda f: f())  # runs at once, as the event loop would later
    manager = SimpleNamespace(_storage_lock=threading.Lock(), _session_storage=storage)
    return SimpleNamespace(_session_mgr=manager, _get_async_objs=lambda: SimpleNamespace(eventloop=loop)), storage


def test_expired_closed_sessions_are_shut_down_and_recent_ones_kept():
    old, recent = FakeSession("old"), FakeSession("recent")
    runtime, storage = runtime_with([(old, 0.0), (recent, 50.0)], now=70.0)  # TTL 60 s: old expired at 60
    assert len(storage._cache._data) == 2  # Streamlit itself has not dropped the expired one
    assert server.close_expired_sessions(runtime).is_set()
    assert old.shut_down and not recent.shut_down
    assert [i.session.id for i in storage.list()] == ["recent"]


def test_without_the_internals_it_does_nothing_and_says_which_are_missing():
    assert server.close_expired_sessions(SimpleNamespace()) is None  # another Streamlit version
    assert server.missing_internals(SimpleNamespace()) == [
        "Runtime.instance()._session_mgr",
        "SessionManager._storage_lock",
        "SessionManager._session_storage._cache",
        "Runtime._get_async_objs().eventloop",
    ]
    runtime, _ = runtime_with([], now=0.0)
    assert server.missing_internals(runtime) == []  # the fake has every internal the real one has


def test_the_dashboard_server_starts_with_two_arenas_unless_the_user_says_otherwise(monkeypatch):
    import subprocess
    from types import SimpleNamespace

    from embaug_core import cli

    seen = {}
    monkeypatch.setattr(subprocess, "call", lambda cmd, env: seen.update(cmd=cmd, env=env) or 0)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cli.cmd_dashboard(SimpleNamespace(port=8599, address=None, headless=True)) == 0
    assert seen["env"]["MALLOC_ARENA_MAX"] == "2" and "8599" in seen["cmd"]
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    cli.cmd_dashboard(SimpleNamespace(port=8599, address=None, headless=True))
    assert seen["env"]["MALLOC_ARENA_MAX"] == "8"  # the user's setting wins


def test_the_dashboard_command_passes_the_address_and_the_ray_address_only_when_given(monkeypatch):
    import subprocess
    from types import SimpleNamespace

    from embaug_core import cli

    seen = {}
    monkeypatch.setattr(subprocess, "call", lambda cmd, env: seen.update(cmd=cmd, env=env) or 0)
    monkeypatch.delenv("EMBAUG_RAY_ADDRESS", raising=False)
    cli.cmd_dashboard(SimpleNamespace(port=8599, address="0.0.0.0", headless=True, ray_address="ray://head:10001"))
    assert seen["env"]["EMBAUG_RAY_ADDRESS"] == "ray://head:10001"
    assert seen["cmd"][seen["cmd"].index("--server.address") + 1] == "0.0.0.0"
    # not given: .streamlit/config.toml's address (localhost) stands, and trainings are worker processes
    cli.cmd_dashboard(SimpleNamespace(port=8599, address=None, headless=True, ray_address=None))
    assert "EMBAUG_RAY_ADDRESS" not in seen["env"] and "--server.address" not in seen["cmd"]
