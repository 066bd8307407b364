"""Training in a worker process: the same numbers as in-process, and a kill -9 of the training leaves a
failed run, a readable store and a caller that goes on. That its errors keep their words is checked for
both runners, this one and Ray, in tests/test_ray_backend.py."""

import os
import signal

import numpy as np
import pandas as pd
import pytest

from embaug_core.experiment.config import ExperimentConfig
from embaug_core.experiment.run import run_experiment
from embaug_core.runs.store import RunStore
from embaug_core.runs.tables import read_dataset_npz, write_dataset_npz
from embaug_core.runs.worker import TrainingFailed, run_experiment_in_worker
from embaug_core.training.config import TrainConfig


@pytest.fixture(scope="module")
def data():
    from conftest import blob_frame

    from embaug_core.data.table import from_dataframe

    return from_dataframe(blob_frame(n_classes=6, per_class=40, dim=12, spread=2.0), label_col="label", id_col="item")


def config(epochs=3, **kw):
    settings = dict(
        methods=("control", "e_stitchup"),
        n_trials=1,
        train_fraction=0.5,
        unseen_classes=2,
        n_removed_classes=2,
        alphas=(0.4,),
        train=TrainConfig(epochs=epochs),
    )
    return ExperimentConfig(**{**settings, **kw})


def test_the_handoff_table_keeps_its_fingerprint(data, tmp_path):
    write_dataset_npz(tmp_path / "t.npz", data, extra=np.arange(3))
    back = read_dataset_npz(tmp_path / "t.npz")
    assert back.fingerprint == data.fingerprint and back.source == data.source


def test_a_worker_training_gives_the_in_process_numbers_and_is_saved(data, tmp_path):
    store = RunStore(tmp_path / "runs")
    seen, begun = [], []
    info = run_experiment_in_worker(
        data, config(), store=store, name="w", always_train=[0, 1], progress=seen.append, on_begin=begun.append
    )
    assert info.status == "complete" and [r.id for r in store.list()] == [info.id]  # the running record is gone
    assert len(begun) == 1 and begun[0] != info.id
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    here, there = run_experiment(data, config(), always_train=[0, 1]), store.load(info.id)
    # every table of numbers (the markdown also holds seconds per training, which vary with the load)
    for table in ("table1", "table2", "table3", "table_selective", "table_score_thresholds"):
        pd.testing.assert_frame_equal(getattr(there, table)(), getattr(here, table)())
    assert [(r.method, r.auroc, r.aupr) for r in there.records] == [(r.method, r.auroc, r.aupr) for r in here.records]


# An error in the worker keeps its words and leaves a failed run: tests/test_ray_backend.py checks it for
# both runners, the worker process and Ray.


def test_kill_9_of_the_worker_mid_epoch_marks_the_run_failed_and_the_caller_goes_on(data, tmp_path):
    store = RunStore(tmp_path / "runs")
    kept = run_experiment_in_worker(data, config(), store=store, name="kept")
    killed = []

    def kill_once(p):
        if not killed and p.epoch >= 2:  # mid-training, between two epochs of a long run
            (running,) = [r for r in store.list() if r.status == "running"]
            assert running.pid != os.getpid()  # the training runs in its own process
            os.kill(running.pid, signal.SIGKILL)
            killed.append(running.id)

    with pytest.raises(TrainingFailed, match="SIGKILL"):
        run_experiment_in_worker(data, config(epochs=5000), store=store, name="doomed", progress=kill_once)
    runs = {r.name: r for r in store.list()}
    assert runs["doomed"].status == "failed" and "SIGKILL" in runs["doomed"].error and runs["doomed"].id == killed[0]
    assert store.load(kept.id).markdown() == store.load(kept.id).markdown()  # the store stays readable
    after = run_experiment_in_worker(data, config(), store=store, name="after")  # the next training runs as usual
    assert after.status == "complete"
    assert not list(store.root.glob(".tmp-*"))


def test_progress_is_written_into_run_json_for_other_readers(data, tmp_path):
    store = RunStore(tmp_path / "runs")
    shown = []

    def look(p):
        if p.epoch >= 40 and not shown:
            shown.extend(r.progress for r in store.list() if r.status == "running")

    run_experiment_in_worker(data, config(epochs=60), store=store, name="p", progress=look, report_s=0.0)
    assert shown and 0 < shown[0]["fraction"] < 1 and shown[0]["message"]


def test_the_training_outlives_its_caller_and_saves_the_run(data, tmp_path):
    """The caller (a server being restarted) is killed after the worker began: the worker trains on
    and the run appears complete, as if the caller had waited."""
    import subprocess
    import sys
    import time

    write_dataset_npz(tmp_path / "data.npz", data)
    script = f"""
from embaug_core.experiment.run import ExperimentConfig
from embaug_core.runs import RunStore, read_dataset_npz, run_experiment_in_worker
config = ExperimentConfig.from_dict({config(epochs=300).to_dict()!r})
run_experiment_in_worker(read_dataset_npz({str(tmp_path / "data.npz")!r}), config,
    store=RunStore({str(tmp_path / "runs")!r}), name="orphan", on_begin=lambda run_id: print("begun", flush=True))
"""
    caller = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert caller.stdout.readline().strip() == "begun"
    os.kill(caller.pid, signal.SIGKILL)
    caller.wait(timeout=30)
    store = RunStore(tmp_path / "runs")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and [r.status for r in store.list()] != ["complete"]:
        time.sleep(0.2)
    (run,) = store.list()
    assert run.status == "complete" and run.name == "orphan" and store.load(run.id).config.train.epochs == 300


def test_a_relative_store_and_another_working_directory(data, tmp_path, monkeypatch):
    """The worker runs in embaug's own folder (so it imports the embaug the caller imported): a store
    given relative to the caller's working directory still lands there."""
    monkeypatch.chdir(tmp_path)
    info = run_experiment_in_worker(data, config(epochs=2), store=RunStore("rel/runs"), name="rel")
    assert (tmp_path / "rel" / "runs" / info.id / "run.json").is_file()


def test_a_caller_that_stops_waiting_leaves_no_handoff_files_and_the_run_is_saved(data, tmp_path, monkeypatch):
    import tempfile
    import time

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    store = RunStore(tmp_path / "runs")

    def give_up(p):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment_in_worker(data, config(epochs=200), store=store, name="left", progress=give_up)
    assert list((tmp_path / "tmp").iterdir()) == []  # the table's copy is gone at once
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and [r.status for r in store.list()] != ["complete"]:
        time.sleep(0.2)
    assert [r.status for r in store.list()] == ["complete"]  # the worker trained on and saved it
