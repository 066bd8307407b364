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
