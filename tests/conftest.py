"""Shared fixtures: small synthetic embedding tables with well-separated classes."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

torch.set_num_threads(1)  # deterministic and no oversubscription on the 2-core CI machine

# Runs trained by the tests (AppTest pages, the CLI, the browser test's server, which inherits the
# environment) are saved under a throw-away EMBAUG_HOME, never in the user's ~/.embaug.
if "EMBAUG_TEST_HOME_SET" not in os.environ:
    os.environ["EMBAUG_HOME"] = tempfile.mkdtemp(prefix="embaug-test-home-")
    os.environ["EMBAUG_TEST_HOME_SET"] = "1"

# AppTest's pages run as a dashboard on localhost (what `embaug dashboard` starts): without it Streamlit's
# address is unset, which means every address, and every page would carry the single-user banner
# (tests/test_signin_pages.py sets the address it tests).
from streamlit import config as _streamlit_config  # noqa: E402

_streamlit_config.set_option("server.address", "localhost")


def auto_precision() -> str:
    """The auto recipe's training precision on this CPU: "bfloat16" where it is fast at it, else "float32"
    (numbers that depend on it: the golden sets, issue 28's energy check)."""
    from embaug_core.device import fast_bfloat16

    return "bfloat16" if fast_bfloat16(torch.device("cpu")) else "float32"


def blobs(n_classes: int = 6, per_class: int = 40, dim: int = 16, *, spread: float = 4.0, seed: int = 0):
    """Gaussian blobs: embeddings (n, dim) float32 and labels "c0".."c{k-1}"."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, dim)) * spread
    y = np.repeat(np.arange(n_classes), per_class)
    x = centers[y] + rng.normal(size=(len(y), dim))
    return x.astype(np.float32), np.array([f"c{i}" for i in y], dtype=object)


def blob_frame(**kw) -> pd.DataFrame:
    x, labels = blobs(**kw)
    frame = pd.DataFrame(x, columns=[f"emb_{i}" for i in range(x.shape[1])])
    frame.insert(0, "label", labels)
    frame.insert(0, "item", [f"row{i}" for i in range(len(x))])
    frame["text"] = [f"text of row {i}" for i in range(len(x))]
    return frame


@pytest.fixture
def blob_csv(tmp_path):
    path = tmp_path / "blobs.csv"
    blob_frame().to_csv(path, index=False)
    return path


ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the dashboard's helper module `ui` lives at the repository root


# ---- the Threshold page's browser-side slider (dashboard/components.py) under AppTest ----
# AppTest cannot run a component's JavaScript: these read what the page sent it, and set the threshold the
# way its trigger does once the slider settles (ThresholdState.moved_to). The browser tests drive the real one.


def slider_data(at) -> dict:
    """The data the Threshold page sent its slider: rows per position ("grid") and the server's ("server")."""
    import json

    def walk(node):
        for child in getattr(node, "children", {}).values():
            yield child
            yield from walk(child)

    for e in walk(at._tree):
        if getattr(e, "type", None) == "bidi_component" and e.proto.component_name == "embaug_threshold_slider":
            return json.loads(e.proto.json)
    raise AssertionError("the Threshold page drew no slider")


def slider_shown(at) -> list[str]:
    """The four metrics the slider shows at the threshold the server holds (threshold, ID, none, overall)."""
    row = slider_data(at)["server"]["row"]
    return [row["threshold"], row["id"], row["none"], row["overall"]]


def move_slider(at, keys: tuple, value: float):
    """The slider moved by hand and settled on ``value`` (what its trigger's callback does); runs ``at``."""
    _, exact, source = keys
    at.session_state[exact] = value
    at.session_state[source] = "manual"
    return at.run()
