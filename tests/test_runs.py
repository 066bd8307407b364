"""The run store: complete or absent, reopened with the same numbers and no retraining."""

import json

import numpy as np
import pytest

from embaug_core.errors import EmbaugError
from embaug_core.experiment.config import ExperimentConfig
from embaug_core.experiment.run import run_experiment
from embaug_core.runs.store import RunStore
from embaug_core.runs.tables import home, load_stored_dataset
from embaug_core.training.config import TrainConfig


@pytest.fixture(scope="module")
def trained():
    from conftest import blob_frame

    from embaug_core.data.table import from_dataframe

    ds = from_dataframe(blob_frame(n_classes=6, per_class=40, dim=12, spread=2.0), label_col="label", id_col="item")
    config = ExperimentConfig(
        methods=("control", "e_stitchup"),
        baselines=("logreg",),
        n_trials=1,
        train_fraction=0.5,
        unseen_classes=2,
        n_removed_classes=2,
        alphas=(0.4,),
        logreg_Cs=(1.0,),
        train=TrainConfig(epochs=3),
    )
    return ds, run_experiment(ds, config, keep_artifacts=True)


def test_a_saved_run_reopens_with_the_same_numbers(trained, tmp_path):
    ds, result = trained
    store = RunStore(tmp_path / "runs")
    info = store.save(result, name="blobs, two methods", dataset=ds)
    assert [r.id for r in store.list()] == [info.id] and info.status == "complete"
    assert info.metrics["control"]["auroc"] == pytest.approx(result.table1()["auroc_mean"].iloc[0])
    again = store.load(info.id)
    assert again.markdown() == result.markdown()
    for key, art in result.artifacts.items():
        got = again.artifacts[key]
        assert got.evaluation.auroc == art.evaluation.auroc
        assert got.evaluation.calibration.ece == art.evaluation.calibration.ece
        assert got.validation.heuristics == art.validation.heuristics
        np.testing.assert_array_equal(got.probs, art.probs)
        if art.head is not None:
            assert got.head.fingerprint == art.head.fingerprint  # the same head, not a retrained one
            for score in art.scores():
                assert got.for_score(score)[1].heuristics == art.for_score(score)[1].heuristics
        else:
            assert got.head is None
    # the data is kept by content hash and comes back with the same rows
    back = load_stored_dataset(ds.fingerprint, tmp_path / "data")
    np.testing.assert_array_equal(back.embeddings, ds.embeddings)
    assert list(back.labels) == list(ds.labels)


def test_rename_delete_export_and_failed_runs(trained, tmp_path):
    ds, result = trained
    store = RunStore(tmp_path / "runs")
    a = store.save(result, name="first", dataset=ds)
    b = store.save_failed(name="second", error="killed (SIGKILL) during epoch 3", config=result.config)
    assert {r.status for r in store.list()} == {"complete", "failed"}
    with pytest.raises(EmbaugError, match="failed"):
        store.load(b.id)
    assert store.rename(a.id, "renamed").name == "renamed" and store.info(a.id).name == "renamed"
    zipped = store.export(a.id, tmp_path / "out.zip")
    assert zipped.exists() and zipped.stat().st_size > 1000
    store.delete(a.id)
    assert [r.id for r in store.list()] == [b.id]
    with pytest.raises(EmbaugError, match="no run"):
        store.info(a.id)
    with pytest.raises(EmbaugError, match="no run"):
        store.info("../../etc")


def test_an_interrupted_save_leaves_no_run(trained, tmp_path, monkeypatch):
    ds, result = trained
    store = RunStore(tmp_path / "runs")
    from embaug_core.runs import store as runs

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(runs, "_save_artifact", boom)
    with pytest.raises(OSError):
        store.save(result, name="x", dataset=ds)
    assert store.list() == [] and not list((tmp_path / "runs").glob(".tmp-*"))
    # a half-written folder from a killed process is never listed, and clean() removes it
    (tmp_path / "runs" / ".tmp-20260101-x-1").mkdir()
    (tmp_path / "runs" / "garbage").mkdir()
    (tmp_path / "runs" / "garbage" / "run.json").write_text("{not json")
    assert store.list() == [] and store.clean() == 1


def test_embaug_home_sets_the_root(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBAUG_HOME", str(tmp_path / "h"))
    assert home() == tmp_path / "h" and RunStore().root == tmp_path / "h" / "runs"
    monkeypatch.delenv("EMBAUG_HOME")
    assert home().name == ".embaug"


def test_run_json_is_plain_json(trained, tmp_path):
    ds, result = trained
    info = RunStore(tmp_path).save(result, name="x")
    d = json.loads((tmp_path / info.id / "run.json").read_text())
    assert d["schema"] == "embaug.run" and d["data"]["stored"] is False


def test_kill_9_mid_training_leaves_a_failed_run_and_a_readable_store(trained, tmp_path):
    """A process that begins a run and trains is killed with SIGKILL mid-epoch: the store stays
    readable, the run is listed as failed, and the other runs are untouched."""
    import os
    import signal
    import subprocess
    import sys
    import time

    ds, result = trained
    store = RunStore(tmp_path / "runs")
    kept = store.save(result, name="kept", dataset=ds)
    script = f"""
import numpy as np
from embaug_core.runs.store import RunStore
from embaug_core import TrainConfig, TrainedHead
store = RunStore({str(tmp_path / "runs")!r})
store.begin(name="doomed")
print("started", flush=True)
rng = np.random.default_rng(0)
x = rng.normal(size=(4000, 64)).astype("float32"); y = [f"c{{i % 5}}" for i in range(4000)]
TrainedHead.train(x, y, TrainConfig(epochs=10_000, method="e_stitchup"))
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(1.0)  # inside the training loop
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    runs = {r.name: r for r in store.list()}
    assert runs["doomed"].status == "failed" and "killed" in runs["doomed"].error
    assert runs["kept"].status == "complete" and store.load(kept.id).markdown() == result.markdown()
    assert store.info(runs["doomed"].id).status == "failed"  # persisted, not only shown


def test_a_finished_training_replaces_its_running_record(trained, tmp_path):
    ds, result = trained
    store = RunStore(tmp_path / "runs")
    running = store.begin(name="t", config=result.config)
    assert [r.status for r in store.list()] == ["running"]  # this process is alive
    store.save(result, name="t", dataset=ds, replaces=running.id)
    assert [r.status for r in store.list()] == ["complete"]
    failing = store.begin(name="u")
    store.fail(failing.id, "ValueError: bad")
    assert {r.status for r in store.list()} == {"complete", "failed"}


def test_a_users_store_sees_only_their_runs_and_refuses_others_in_the_words_of_a_missing_run(trained, tmp_path):
    ds, result = trained
    root = tmp_path / "runs"
    ana, ben = RunStore(root, user="ana@example.org"), RunStore(root, user="ben@example.org")
    mine = ana.save(result, name="ana's run", dataset=ds)
    failed = ana.save_failed(name="ana's failure", error="boom", config=result.config)
    assert mine.owner == "ana@example.org" and ana.info(failed.id).owner == "ana@example.org"
    assert {r.id for r in ana.list()} == {mine.id, failed.id}
    assert ben.list() == []
    # every call that takes an id: the same words as an id that never existed, and no server path
    for call in (ben.info, ben.load, ben.stored_data, ben.delete, lambda i: ben.rename(i, "mine now")):
        with pytest.raises(EmbaugError) as other:
            call(mine.id)
        with pytest.raises(EmbaugError) as missing:
            call("20991231-000000-nothing-abcdef")
        assert str(other.value) == str(missing.value).replace("20991231-000000-nothing-abcdef", mine.id)
        assert str(root) not in str(other.value) and "among your runs" in str(other.value)
    with pytest.raises(EmbaugError, match="no run"):
        ben.export(mine.id, tmp_path / "out.zip")
    assert ana.info(mine.id).name == "ana's run"  # untouched by ben
    # the machine owner (embaug runs) and an admin see everything; --owner filters
    assert {r.id for r in RunStore(root).list()} == {mine.id, failed.id}
    assert RunStore(root).list(owner="ben@example.org") == []
    assert {r.id for r in RunStore(root, user="root@example.org", admin=True).list()} == {mine.id, failed.id}
    with pytest.raises(EmbaugError, match="cannot be empty"):
        RunStore(root, user=" ")


def test_a_stored_table_is_kept_once_and_read_only_by_its_owners(trained, tmp_path):
    ds, result = trained
    root = tmp_path / "runs"
    ana, ben, cy = (RunStore(root, user=u) for u in ("ana", "ben", "cy"))
    a = ana.save(result, name="a", dataset=ds)
    assert load_stored_dataset(ds.fingerprint, tmp_path / "data", owner="ben") is None  # as if never stored
    np.testing.assert_array_equal(ana.stored_data(a.id).embeddings, ds.embeddings)
    b = ben.save(result, name="b", dataset=ds)  # the same table, uploaded by ben too: one file, two owners
    assert len(list((tmp_path / "data").glob("*.npz"))) == 1
    np.testing.assert_array_equal(ben.stored_data(b.id).embeddings, ds.embeddings)
    assert load_stored_dataset(ds.fingerprint, tmp_path / "data", owner="cy") is None
    assert cy.list() == []
    # the machine owner reads every table; an admin opens any run with its data
    assert load_stored_dataset(ds.fingerprint, tmp_path / "data") is not None
    assert RunStore(root, user="cy", admin=True).stored_data(a.id) is not None


def test_a_signed_in_user_is_not_told_the_servers_paths_by_a_failure_or_a_damaged_run(trained, tmp_path):
    from embaug_core.runs.worker import unexpected_error

    ds, result = trained
    root = tmp_path / "runs"
    ana = RunStore(root, user="ana@example.org")
    details = f"PermissionError: [Errno 13] Permission denied: '{root}/x'"
    assert unexpected_error(RunStore(root), details, "PermissionError") == details  # the machine owner: all of it
    said = unexpected_error(ana, details, "PermissionError")
    assert said == "PermissionError (the details are in the server's log)" and str(root) not in said
    info = ana.save(result, name="a", dataset=ds)
    for npz in (root / info.id / "artifacts").glob("*/arrays.npz"):
        npz.write_bytes(b"not an npz")
    with pytest.raises(EmbaugError) as damaged:
        ana.load(info.id)
    assert str(damaged.value) == f"run {info.id!r} cannot be reopened: its files are damaged."
    with pytest.raises(Exception) as owner_sees:  # the machine owner gets the file's own error
        RunStore(root).load(info.id)
    assert "damaged" not in str(owner_sees.value)
