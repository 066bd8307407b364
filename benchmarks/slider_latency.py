"""Threshold-page slider latency in a real browser (Debian's Chromium, driven by Playwright).

    python benchmarks/slider_latency.py                 # bundled sample, idle server
    python benchmarks/slider_latency.py --under-load    # while a second session trains
    python benchmarks/slider_latency.py --rows 13000    # an uploaded 13k-row table instead
    python benchmarks/slider_latency.py --switches 10   # then switch the Score selector 10 times

It starts the dashboard on a free port (its runs in a temporary EMBAUG_HOME, removed at the end with any
training still running), trains the fast preset on the data, opens the Threshold page and
presses ArrowRight on the slider ``--steps`` times. One step's latency is the time from the key press
(the page's own ``keydown`` time) until the page's text and figures stop changing: every animation frame,
the page's text (``innerText`` of the main area) and both figures' marker lines are read, and the step
ends at the last frame that differs from the one before, once nothing has changed for a second. That
includes whatever the server sends after the slider settles (its rerun 250 ms after the step), should
it change anything shown. It prints p50, p90 and max in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dashboard.experiment_form import PRESET_TITLES  # noqa: E402  (the Epochs box's option titles)

CHROMIUM = os.environ.get("EMBAUG_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _start_server(env: dict | None = None, log_dir: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start the dashboard on a free port (``env``: its environment); returns (process, url)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open((log_dir or Path(tempfile.gettempdir())) / f"embaug_bench_{port}.log", "wb")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"]
    from embaug_core.cli.dashboard import DASHBOARD_ENV

    env = {**DASHBOARD_ENV, **(os.environ if env is None else env)}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(180):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the dashboard did not start")


def descendants(pid: int) -> list[int]:
    """The processes started by ``pid``, at any depth (the training workers)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    out, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        out += children
        frontier += children
    return out


def _stop_server(proc: subprocess.Popen) -> None:
    """Stop the dashboard and every training it started: a worker process outlives its server on purpose
    (it saves its run on its own), so one a benchmark left (the paper preset of ``--under-load``) is killed."""
    for pid in descendants(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.terminate()
    proc.wait(timeout=60)


def _settle(page) -> None:
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=600_000)
    page.wait_for_timeout(300)


def _upload(page, rows: int, tmp: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import blob_frame

    frame = blob_frame(n_classes=40, per_class=rows // 40, dim=384, spread=1.0).drop(columns=["item", "text"])
    frame = frame.rename(columns={f"emb_{i}": f"e{i}" for i in range(384)})
    frame.insert(0, "id", range(len(frame)))
    path = tmp / "intents.csv"
    frame.to_csv(path, index=False)
    page.get_by_text("Upload a file").click()
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Embedding table")
    uploader.locator('input[type="file"]').set_input_files(str(path))
    page.get_by_text("intents.csv:").first.wait_for(timeout=120_000)
    _settle(page)
    page.get_by_role("button", name="Use this table").click()
    page.get_by_text("Loaded intents.csv").wait_for(timeout=120_000)
    _settle(page)


def _train(page, url: str, *, preset: str = "fast", wait: bool = True) -> None:
    page.get_by_role("link", name="Experiment", exact=True).click()
    page.get_by_text("Nothing trained yet").wait_for(timeout=60_000)
    _settle(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Epochs").click()
    page.get_by_role("option", name=PRESET_TITLES[preset]).click()  # the default is auto
    page.get_by_role("button", name="Train", exact=True).click()
    if wait:
        page.get_by_text("done in").first.wait_for(timeout=900_000)
        _settle(page)


# Watches the page from inside: the time of the key press (or of the click), and of the last animation frame
# in which the page's text, a figure's marker line or a shown figure's legend differed from the frame before.
WATCH = """() => {
  if (window.__embaugWatch) return;
  window.__embaugWatch = true;
  // what is on the screen: a score's figures the page keeps for a switch back are hidden
  window.__seen = e => e.checkVisibility({visibilityProperty: true});
  window.__legends = () => [...document.querySelectorAll('.legendtext')].filter(window.__seen).map(t => t.textContent);
  document.addEventListener("keydown", () => { window.__keyAt = performance.now(); }, true);
  document.addEventListener("pointerdown", () => { window.__downAt = performance.now(); }, true);
  const shown = () => {
    const main = document.querySelector('[data-testid=stMain]');
    const lines = [...document.querySelectorAll('.js-plotly-plot .shapelayer path')].map(p => p.getAttribute('d'));
    const legends = window.__legends();
    return (main ? main.innerText : '') + '|' + lines.join('|') + '|' + legends.join('|');
  };
  let last = shown(), dirty = false;
  window.__changedAt = performance.now();
  // read only in frames after the page's DOM changed: reading the text forces a layout, and doing it in
  // every frame took CPU time from the page being measured
  new MutationObserver(() => { dirty = true; })
    .observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
  const tick = () => {
    if (dirty) {
      dirty = false;
      const now = shown();
      if (now !== last) { last = now; window.__changedAt = performance.now(); }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""
# Settled: the new threshold is shown with both markers, and nothing has changed for a second.
SETTLED = """v => {
  const metric = [...document.querySelectorAll('[data-testid=embaugMetric]')]
    .some(m => m.innerText.includes('Threshold') && m.innerText.includes(v));
  const marks = window.__legends().filter(t => t === 'threshold ' + v);
  return metric && marks.length >= 2 && performance.now() - window.__changedAt > 1000;
}"""


# A score switch has reached the screen when both figures' legends differ from before the switch
# (their heuristic entries carry that score's thresholds), no element is stale any more, and nothing
# has changed for a second.
SWITCHED = """before => {
  const now = window.__legends().join('|');
  return now !== before && [...document.querySelectorAll('.js-plotly-plot')].filter(window.__seen).length === 2
    && !document.querySelector('[data-stale=true]') && performance.now() - window.__changedAt > 1000;
}"""


def _switch_scores(page, switches: int) -> list[float]:
    """Time ``switches`` changes of the Threshold page's Score selector (kNN and max-prob in turn): from the
    click on the option (the page's own ``pointerdown`` time) until the page stops changing, as a step."""
    times = []
    for i in range(switches):
        name = "kNN distance (percentile)" if i % 2 == 0 else "max probability"
        before = page.evaluate("() => window.__legends().join('|')")
        option = page.get_by_role("option", name=name, exact=True)
        for _ in range(3):  # a click while the page still settles may not open the list
            page.locator('[data-testid="stSelectbox"]').filter(has_text="Score").click()
            try:
                option.wait_for(timeout=10_000)
                break
            except Exception:  # noqa: BLE001 - Playwright's timeout: click again
                page.keyboard.press("Escape")
        option.wait_for(timeout=10_000)
        option.click()
        page.wait_for_function(SWITCHED, arg=before, timeout=60_000, polling=50)
        times.append(page.evaluate("() => window.__changedAt - window.__downAt"))
        _settle(page)
    return times


def measure(steps: int, under_load: bool, rows: int | None, switches: int = 0) -> dict:
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="embaug-slider-"))  # its runs, not the machine owner's ~/.embaug
    proc, url = _start_server({**os.environ, "EMBAUG_HOME": str(home)})
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url)
            page.get_by_text("Rows per class").first.wait_for(timeout=120_000)
            if rows:
                _upload(page, rows, Path(tmp))
            _train(page, url)
            if under_load:  # a second session starts a long training on the bundled sample
                other = browser.new_page()
                other.goto(url)
                other.get_by_text("Rows per class").first.wait_for(timeout=120_000)
                _train(other, url, preset="paper", wait=False)
                other.get_by_text(re.compile(r"epoch \d+/576")).first.wait_for(timeout=120_000)  # it trains
            page.get_by_role("link", name="Threshold").click()
            slider = page.get_by_role("slider")
            slider.wait_for(timeout=60_000)
            _settle(page)
            page.evaluate(WATCH)
            slider.focus()
            times = []
            for _ in range(steps):
                expected = f"{round(float(slider.input_value()) + 0.001, 3):.3f}"
                page.keyboard.press("ArrowRight")
                page.wait_for_function(SETTLED, arg=expected, timeout=60_000, polling=50)
                times.append(page.evaluate("() => window.__changedAt - window.__keyAt"))
            print(f"steps (ms): {[round(t) for t in times]}", file=sys.stderr, flush=True)
            switch_times = _switch_scores(page, switches)
            browser.close()
    finally:
        _stop_server(proc)
        shutil.rmtree(home, ignore_errors=True)
    t = np.asarray(times)
    return {
        "switch_p50_ms": float(np.percentile(switch_times, 50)) if switch_times else None,
        "switch_max_ms": float(np.max(switch_times)) if switch_times else None,
        "steps": steps,
        "under_load": under_load,
        "rows": rows or 15000,
        "p50_ms": float(np.percentile(t, 50)),
        "p90_ms": float(np.percentile(t, 90)),
        "max_ms": float(t.max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--under-load", action="store_true", help="a second session trains the paper preset meanwhile")
    ap.add_argument("--rows", type=int, help="upload a synthetic id,label,e0..e383 table of this many rows")
    ap.add_argument("--switches", type=int, default=0, help="then switch the Score selector this many times")
    args = ap.parse_args()
    r = measure(args.steps, args.under_load, args.rows, args.switches)
    print(json.dumps(r))
    load = "while a second session trains" if r["under_load"] else "idle server"
    print(
        f"slider  {r['rows']:,} rows, {load}: p50 {r['p50_ms']:.0f} ms, p90 {r['p90_ms']:.0f} ms, "
        f"max {r['max_ms']:.0f} ms over {r['steps']} steps, key press until the page stops changing "
        "(targets: p50 <= 100 ms, p90 <= 200 ms; p50 <= 150 ms while another session trains)"
    )
    if r["switch_p50_ms"] is not None:
        print(
            f"score switch: p50 {r['switch_p50_ms']:.0f} ms, max {r['switch_max_ms']:.0f} ms "
            f"over {args.switches} switches (target p50 <= 300 ms; the whole page reruns, "
            "a score shown before keeps its figures)"
        )


if __name__ == "__main__":
    main()
