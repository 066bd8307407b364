"""The Ray backend gives the same numbers as the local one (a local Ray started by the test)."""

import os

import pytest
from conftest import blobs

from embaug_core.data.table import from_dataframe
from embaug_core.errors import ConfigError
from embaug_core.experiment.config import ExperimentConfig
from embaug_core.experiment.run import run_experiment
from embaug_core.training.config import TrainConfig

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_matches_local(local_ray):
    import pandas as pd

    x, labels = blobs(n_classes=8, per_class=30, dim=12, spread=2.0, seed=9)
    frame = pd.DataFrame(x, columns=[f"e{i}" for i in range(12)])
    frame["label"] = labels
    ds = from_dataframe(frame, label_col="label")
    config = ExperimentConfig(
        methods=("control", "e_stitchup"),
        baselines=("logreg",),
        n_trials=2,
        train_fraction=0.3,
        unseen_classes=2,
        alphas=(0.4,),
        n_removed_classes=2,
        logreg_Cs=(1.0,),
        train=TrainConfig(epochs=3),
        seed=4,
    )
    local = run_experiment(ds, config, threads=1)
    seen = []
    remote = run_experiment(ds, config, backend="ray", threads=1, progress=seen.append)
    assert [(r.method, r.trial) for r in remote.records] == [(r.method, r.trial) for r in local.records]
    for a, b in zip(local.records, remote.records, strict=True):
        assert a.auroc == b.auroc and a.calibration.to_dict() == b.calibration.to_dict()
        assert a.thresholds == b.thresholds
    assert remote.table1().equals(local.table1())
    assert seen and seen[-1].done == seen[-1].total


def test_ray_refuses_artifacts():
    with pytest.raises(ConfigError, match="local backend"):
        run_experiment(None, ExperimentConfig(), backend="ray", keep_artifacts=True)
    with pytest.raises(ConfigError, match="backend must be"):
        run_experiment(None, ExperimentConfig(), backend="spark")
