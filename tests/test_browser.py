"""One real-browser walk through the dashboard: upload -> train -> slider -> snap -> download.

Covers what AppTest cannot: file upload, the slider moved by keyboard, downloads.
Playwright drives Debian's Chromium (/usr/bin/chromium, installed by scripts/test.sh).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, blob_frame

CHROMIUM = os.environ.get("EMBAUG_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (scripts/test.sh does) to run the browser test.")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the dashboard did not start: " + proc.stdout.read().decode(errors="replace")[-2000:])
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_upload_train_slide_snap_export(server, browser, tmp_path):
    good = tmp_path / "products.csv"
    blob_frame(n_classes=6, per_class=100, dim=16, spread=2.0).to_csv(good, index=False)
    bad = tmp_path / "broken.csv"
    bad.write_text("label,e1,e2\na,1,2\nb,oops,4\n")

    page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    page.goto(server)
    page.get_by_text("Rows per class").first.wait_for(timeout=60_000)
    assert _metric(page, "Rows") == "15,000"  # opens on the bundled sample

    # a broken upload: a readable message, no traceback, the sample stays in use
    page.get_by_text("Upload a file").click()
    page.locator('input[type="file"]').set_input_files(str(bad))
    page.get_by_role("button", name="Use this table").click()
    page.get_by_text("'oops' is not a number").wait_for(timeout=30_000)
    assert "Traceback" not in page.content()
    assert _metric(page, "Rows") == "15,000"

    # the real upload
    page.locator('input[type="file"]').set_input_files(str(good))
    page.get_by_text("products.csv:").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Use this table").click()
    page.get_by_text("Loaded products.csv").wait_for(timeout=30_000)
    assert _metric(page, "Rows") == "600" and _metric(page, "Classes") == "6"

    # two random classes unseen per trial
    unseen = page.get_by_label("Random classes held out per trial (random split)", exact=True).and_(page.locator("input"))
    unseen.fill("2")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("2 random classes unseen per trial").first.wait_for(timeout=30_000)

    # train the fast preset
    page.get_by_role("link", name="Train").click()
    page.get_by_role("button", name="Train").click()
    page.get_by_text("Accuracy per epoch").wait_for(timeout=180_000)
    assert "Traceback" not in page.content()

    # the threshold page: move the slider by keyboard, then snap to heuristic 2
    page.get_by_role("link", name="Threshold").click()
    slider = page.get_by_role("slider")
    slider.wait_for(timeout=60_000)
    before = float(slider.input_value())
    slider.focus()
    for _ in range(25):
        page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(300)
    expected = round(max(before - 0.025, 0.0), 3)
    page.wait_for_function(
        "v => Math.abs(parseFloat(document.querySelector('[data-testid=stSlider] input').value) - v) < 1e-9",
        arg=expected, timeout=10_000)
    page.wait_for_timeout(1500)
    assert float(_metric(page, "Threshold")) == pytest.approx(expected, abs=1e-9)

    page.get_by_role("button", name="Snap to heuristic 2 (ratio)").click()
    page.wait_for_timeout(1500)
    snapped = float(page.get_by_role("slider").input_value())
    shown = float(_metric(page, "Threshold"))
    assert shown == pytest.approx(snapped)
    assert snapped == pytest.approx(before)  # the page opens on heuristic 2; the snap returns there
    assert snapped != pytest.approx(expected)

    with page.expect_download() as info:
        page.get_by_role("button", name="Download threshold JSON").click()
    doc = json.loads(Path(info.value.path()).read_text())
    assert doc["schema"] == "embaug.threshold"
    assert doc["threshold"] == pytest.approx(shown, abs=5e-4)
    assert doc["source"] == "ratio"
    assert doc["class_names"] and len(doc["class_names"]) == 4

    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("Download the trained head")).click()
    with zipfile.ZipFile(info.value.path()) as z:
        assert sorted(z.namelist()) == ["embaug-head/head.json", "embaug-head/head.safetensors"]
    assert "Traceback" not in page.content()
    page.close()
