"""The screenshot of the Groups view in the docs (docs/groups_view.png), made from scratch:

    python scripts/groups_screenshot.py

An experiment on the bundled sample (the control head, the fast preset, one trial, 38 of the 150
intents unseen) is saved as a run in a throw-away EMBAUG_HOME; a dashboard started on it opens the run
in Chromium (Debian's, as the browser test uses), the Labelling queue's Groups view is shown at heuristic
2's threshold, group 5 (deterministic for the seed: questions about income) is opened and a name typed,
and the page is captured.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("EMBAUG_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main() -> int:
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="embaug-screenshot-")
    env = {**os.environ, "EMBAUG_HOME": home}
    experiment = [
        sys.executable, "-m", "embaug_core.cli", "experiment", "sample_data/clinc150_minilm.npz", "--label-col",
        "intent", "--id-col", "id", "--methods", "control", "--baselines", "none", "--preset", "fast", "--trials",
        "1", "--unseen-classes", "38", "--save-run", "intents, 38 unseen", "--out", f"{home}/experiment",
    ]  # fmt: skip
    subprocess.run(experiment, cwd=ROOT, env=env, check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1500})
            page.goto(url)
            page.get_by_role("link", name="Runs").click()
            page.get_by_role("button", name="Open this run").wait_for(timeout=60_000)
            time.sleep(1)
            page.get_by_role("button", name="Open this run").click()
            page.get_by_text("Opened ").wait_for(timeout=60_000)
            page.get_by_role("link", name="Labelling queue").click()
            page.get_by_text("Groups", exact=True).click()
            page.get_by_role("button", name="Name the group").wait_for(timeout=120_000)
            time.sleep(2)
            page.get_by_role("combobox", name="Look inside a group").click()
            page.get_by_role("option", name="group 5", exact=True).click()  # income and salary questions
            time.sleep(3)
            page.get_by_label("Name this group").fill("income")
            page.get_by_label("Name this group").press("Enter")
            time.sleep(3)
            page.screenshot(path=str(ROOT / "docs" / "groups_view.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    print("wrote docs/groups_view.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
