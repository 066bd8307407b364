"""The Ray backend gives the same numbers as the local one, and the dashboard's Ray runner answers as its
worker process does: the same run saved, the same words for an error (a local Ray started by the test)."""

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


def _blob_set():
    import pandas as pd

    x, labels = blobs(n_classes=8, per_class=30, dim=12, spread=2.0, seed=9)
    frame = pd.DataFrame(x, columns=[f"e{i}" for i in range(12)])
    frame["label"] = labels
    return from_dataframe(frame, label_col="label")


def _config(**kw):
    settings = dict(
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
    return ExperimentConfig(**{**settings, **kw})


def test_ray_matches_local(local_ray):
    ds, config = _blob_set(), _config()
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


def test_a_dashboard_training_on_ray_is_saved_as_a_worker_process_saves_it(local_ray, tmp_path):
    """Issue 26, point 4: EMBAUG_RAY_ADDRESS sends the dashboard's trainings to Ray; the run, its owner, its
    heads and its numbers are what the worker process gives, and progress reaches the caller."""
    from embaug_core.runs.ray_worker import run_experiment_on_ray
    from embaug_core.runs.store import RunStore

    ds, config = _blob_set(), _config()
    store = RunStore(tmp_path / "runs", user="ana@example.org")
    seen, begun = [], []
    info = run_experiment_on_ray(
        ds, config, store=store, name="on ray", progress=seen.append, on_begin=begun.append, report_s=0.0
    )
    assert info.status == "complete" and info.owner == "ana@example.org" and begun and begun[0] != info.id
    assert [r.id for r in store.list()] == [info.id]  # the running record was replaced
    assert seen and seen[-1].done == seen[-1].total
    reopened = store.load(info.id)
    local = run_experiment(ds, config, threads=1, keep_artifacts=True)
    assert reopened.table1().equals(local.table1())
    head = reopened.artifacts[("e_stitchup", 0)].head
    assert head is not None and head.fingerprint == local.artifacts[("e_stitchup", 0)].head.fingerprint
    assert store.stored_data(info.id).fingerprint == ds.fingerprint


@pytest.mark.parametrize("runner", ["worker process", "ray"])
def test_a_training_that_raises_keeps_its_words_and_leaves_a_failed_run(runner, request, tmp_path):
    """Both of the dashboard's runners (a worker process; a Ray task with EMBAUG_RAY_ADDRESS) raise the
    training's own error in its words and record the run failed, owned by the store's user."""
    from embaug_core.errors import EmbaugError
    from embaug_core.runs.ray_worker import run_experiment_on_ray
    from embaug_core.runs.store import RunStore
    from embaug_core.runs.worker import TrainingFailed, run_experiment_in_worker

    if runner == "ray":
        request.getfixturevalue("local_ray")
    train = run_experiment_on_ray if runner == "ray" else run_experiment_in_worker
    ds, store = _blob_set(), RunStore(tmp_path / "runs", user="ana@example.org")
    too_many = _config(unseen_classes=12)  # 8 classes cannot hold 12 unseen ones
    with pytest.raises(EmbaugError) as here:
        run_experiment(ds, too_many)
    with pytest.raises(EmbaugError) as there:
        train(ds, too_many, store=store, name="bad")
    assert str(there.value) == str(here.value) and not isinstance(there.value, TrainingFailed)
    (run,) = store.list()
    assert run.status == "failed" and str(here.value) in run.error and run.owner == "ana@example.org"
    assert RunStore(tmp_path / "runs", user="ben@example.org").list() == []
