"""Memory soak of the dashboard: 8 concurrent sessions x 3 rounds of upload -> train -> close.

    python benchmarks/soak.py [--sessions 8] [--rounds 3] [--rows 3000] [--dim 64]

It starts the dashboard (its own EMBAUG_HOME, ``server.disconnectedSessionTTL`` as shipped in
.streamlit/config.toml) and notes the server's RSS after one warm-up session has trained once and
closed: the start. Each round opens ``--sessions`` browser sessions (Debian's Chromium), each uploads
its own table (id, label, e0..; ``--rows`` x ``--dim``), starts the fast preset, and all wait until
every training is done; then every session is closed and the server is left ``--settle`` seconds to
drop them. Printed per round: peak and after-close RSS, errors (a traceback or an error box on any
page) and trainings lost (runs saved != trainings started). Target: no errors, nothing lost, RSS
after the last round within 20 % of the start. Trainings run in worker processes
(embaug_core.runs.worker) that end with their training: the peak is printed for the server alone and for
the server with its workers, and ``workers_left`` counts processes still there after a round.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slider_latency import _settle, _start_server, _stop_server, descendants

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("EMBAUG_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_rss_mb(pid: int) -> float:
    """RSS of the server and its workers together (shared pages counted once per process)."""
    total = rss_mb(pid)
    for child in descendants(pid):
        try:
            total += rss_mb(child)
        except OSError:  # ended meanwhile
            pass
    return total


class Peak(threading.Thread):
    """Samples the server's RSS, and the server's with its training workers', every 0.2 s; keeps the maxima."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.tree_peak, self.stop = pid, 0.0, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self.tree_peak = max(self.tree_peak, tree_rss_mb(self.pid))
            time.sleep(0.2)


def _start(home: Path) -> tuple[subprocess.Popen, str]:
    return _start_server({**os.environ, "EMBAUG_HOME": str(home)}, home)


def _table(path: Path, rows: int, dim: int, seed: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    k = 20
    centers = rng.normal(size=(k, dim)) * 2
    y = rng.integers(0, k, rows)
    frame = pd.DataFrame(
        (centers[y] + rng.normal(size=(rows, dim))).astype("float32"), columns=[f"e{i}" for i in range(dim)]
    )
    frame.insert(0, "label", [f"c{v}" for v in y])
    frame.insert(0, "id", range(rows))
    frame.to_csv(path, index=False)


def _start_training(page, url: str, path: Path) -> None:
    page.goto(url)
    page.get_by_text("Rows per class").first.wait_for(timeout=300_000)
    page.get_by_text("Upload a file").click()
    box = page.locator('[data-testid="stFileUploader"]').filter(has_text="Embedding table")
    box.locator('input[type="file"]').set_input_files(str(path))
    page.get_by_role("button", name="Use this table").click(timeout=300_000)
    page.get_by_text(f"Loaded {path.name}").wait_for(timeout=300_000)
    _settle(page)
    page.get_by_role("link", name="Experiment", exact=True).click()
    page.get_by_text("Nothing trained yet").wait_for(timeout=300_000)
    _settle(page)
    page.get_by_role("button", name="Train", exact=True).click()


def _errors(page) -> int:
    return int("Traceback" in page.content()) + page.locator('[data-testid="stException"]').count()


def soak(sessions: int, rounds: int, rows: int, dim: int, settle_s: float) -> dict:
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="embaug-soak-"))
    proc, url = _start(home)
    out = {"sessions": sessions, "rounds": [], "rows": rows, "dim": dim}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            # warm-up: one session trains once (imports, thread pools, allocator caches), then closes
            warm_table = home / "warm.csv"
            _table(warm_table, rows, dim, 999)
            warm = browser.new_context(viewport={"width": 1300, "height": 1000})
            page = warm.new_page()
            _start_training(page, url, warm_table)
            page.get_by_text(re.compile("done in")).first.wait_for(timeout=1_800_000)
            warm.close()
            time.sleep(settle_s)
            out["start_mb"] = rss_mb(proc.pid)
            tables = []
            for s in range(sessions):
                tables.append(home / f"table_{s}.csv")
                _table(tables[-1], rows, dim, s)
            started = 0
            for r in range(rounds):
                peak = Peak(proc.pid)
                peak.start()
                t0 = time.perf_counter()
                contexts = [browser.new_context(viewport={"width": 1300, "height": 1000}) for _ in range(sessions)]
                pages = [c.new_page() for c in contexts]
                for page, path in zip(pages, tables, strict=True):
                    _start_training(page, url, path)
                    started += 1
                for page in pages:
                    page.get_by_text(re.compile("done in")).first.wait_for(timeout=1_800_000)
                errors = sum(_errors(page) for page in pages)
                for c in contexts:
                    c.close()
                seconds = time.perf_counter() - t0
                time.sleep(settle_s)
                peak.stop.set()
                peak.join()
                saved = len([d for d in (home / "runs").iterdir() if not d.name.startswith(".")]) - 1  # warm-up
                out["rounds"].append(
                    {
                        "round": r + 1,
                        "seconds": round(seconds, 1),
                        "peak_mb": round(peak.peak, 1),
                        "peak_with_workers_mb": round(peak.tree_peak, 1),
                        "after_close_mb": round(rss_mb(proc.pid), 1),
                        "workers_left": len(descendants(proc.pid)),
                        "errors": errors,
                        "lost": started - saved,
                    }
                )
                print(json.dumps(out["rounds"][-1]), flush=True)
            browser.close()
    finally:
        _stop_server(proc)
    out["end_mb"] = out["rounds"][-1]["after_close_mb"]
    out["end_over_start"] = out["end_mb"] / out["start_mb"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=3_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument(
        "--settle",
        type=float,
        default=90.0,
        help="seconds after closing the sessions (the session TTL is 60 s, housekeeping every 10 s)",
    )
    args = ap.parse_args()
    r = soak(args.sessions, args.rounds, args.rows, args.dim, args.settle)
    print(json.dumps(r))
    ok = r["end_over_start"] <= 1.2 and not any(x["errors"] or x["lost"] for x in r["rounds"])
    print(
        f"soak: {args.sessions} sessions x {args.rounds} rounds; RSS start {r['start_mb']:.0f} MB, "
        f"peak {max(x['peak_mb'] for x in r['rounds']):.0f} MB "
        f"({max(x['peak_with_workers_mb'] for x in r['rounds']):.0f} MB with the training workers), "
        f"end {r['end_mb']:.0f} MB "
        f"({r['end_over_start']:.2f}x the start; target <= 1.20x); errors "
        f"{sum(x['errors'] for x in r['rounds'])}, lost {r['rounds'][-1]['lost']}: {'met' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
