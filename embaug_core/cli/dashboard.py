"""``embaug dashboard``: the Streamlit dashboard of this source checkout, with the server's environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import EmbaugError

__all__ = ["cmd_dashboard", "DASHBOARD_ENV"]


#: The dashboard server's environment unless the user sets it. glibc gives each allocating thread
#: its own arena (up to 8 per core) and Streamlit runs a thread per session; memory freed over many
#: arenas is rarely returned. benchmarks/soak.py (8 sessions, 1 round): RSS after they closed 1.44x
#: the start by default, 1.08x with 2 arenas. glibc fixes the limit early, so only the environment
#: works (a mallopt() from the app was tried: no change).
DASHBOARD_ENV = {"MALLOC_ARENA_MAX": "2"}


def cmd_dashboard(args) -> int:
    import subprocess

    app = Path(__file__).resolve().parents[2] / "app.py"
    if not app.exists():
        raise EmbaugError(f"{app} not found: the dashboard runs from a source checkout (pip install -e .).")
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port)]
    if getattr(args, "address", None):  # else .streamlit/config.toml's (localhost), or the user's own setting
        cmd += ["--server.address", str(args.address)]
    if args.headless:
        cmd += ["--server.headless", "true"]
    env = {**DASHBOARD_ENV, **os.environ}
    if getattr(args, "ray_address", None):
        env["EMBAUG_RAY_ADDRESS"] = args.ray_address  # read by dashboard/training.py for every training
    return subprocess.call(cmd, env=env)
