"""Dashboard trainings run in worker processes: a kill -9 of one leaves a failed run, an error on
its page, and every other session as it was; a page left mid-training finds the run when it is back."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from test_pages import blob_set, fresh, trained

from dashboard import state
from embaug_core.runs.store import RunStore


def _start(at, epochs: int):
    at.switch_page("dashboard/pages/experiment.py").run()
    at.selectbox(key="train_preset").set_value("custom").run()  # the epochs box shows for custom only
    at.multiselect(key="train_methods").set_value(["control"])
    at.number_input(key="train_custom_epochs").set_value(epochs)
    return at.button[0].click()


def _running(store: RunStore, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [r for r in store.list() if r.status == "running" and r.progress]  # past its first epochs
        if running:
            return running[0]
        time.sleep(0.1)
    raise AssertionError("no training reported progress")


def test_kill_9_of_a_dashboard_training_fails_its_run_and_no_other_session_notices():
    store = RunStore()
    other = trained(methods=("control",))  # another session, with a result open
    other_result = ui_result(other)
    killed = []

    def kill_it():
        run = _running(store)
        assert run.pid != os.getpid()  # its own process: the server is not what dies
        os.kill(run.pid, signal.SIGKILL)
        killed.append(run.id)

    killer = threading.Thread(target=kill_it)
    killer.start()
    doomed = _start(fresh(blob_set()), epochs=20_000).run()
    killer.join()
    assert not doomed.exception
    assert any("SIGKILL" in e.value and "Runs page" in e.value for e in doomed.error)
    assert doomed.session_state[state.CURRENT] is None  # nothing half-trained is shown
    assert store.info(killed[0]).status == "failed" and "SIGKILL" in store.info(killed[0]).error
    assert not list(store.root.glob(".tmp-*"))
    # the other session goes on: its pages render its result, and its next training runs
    other.switch_page("dashboard/pages/calibration.py").run()
    assert not other.exception and ui_result(other) is other_result
    _start(other, epochs=4).run()
    assert not other.exception and ui_result(other) is not other_result
    assert store.info(other.session_state[state.RUN_IDS][other.session_state[state.CURRENT]]).status == "complete"


def ui_result(at):
    return at.session_state[state.RESULTS][at.session_state[state.CURRENT]]


def test_a_page_left_mid_training_finds_the_saved_run_when_it_comes_back():
    store = RunStore()
    at = fresh(blob_set())
    _start(at, epochs=400)
    with pytest.raises(RuntimeError, match="timed out"):
        at.run(timeout=4)  # the page is stopped while it waits, as when the user goes elsewhere
    assert state.JOBS in at.session_state and at.session_state[state.JOBS]  # the training goes on
    assert state.CURRENT not in at.session_state or at.session_state[state.CURRENT] is None
    at.run(timeout=300)  # back on the Experiment page: it waits for the same training, then shows it
    assert not at.exception
    assert any(p.proto.text.startswith("done in") for p in at.get("progress"))
    run_id = at.session_state[state.RUN_IDS][at.session_state[state.CURRENT]]
    assert store.info(run_id).status == "complete" and ui_result(at).config.train.epochs == 400
    assert [r.status for r in store.list() if r.status == "running"] == []


def test_the_runs_page_shows_how_far_a_running_training_is():
    from embaug_core.experiment.config import ExperimentProgress

    store = RunStore()
    running = store.begin(name="still training", source="blobs")  # this process: alive
    # the second of two trainings, half-way: 4 of 8 epochs in 30 s of this step, so about 30 s left
    progress = ExperimentProgress(1, 2, "trial 1/1", elapsed_s=90.0, epoch=4, epochs=8, stage_elapsed_s=30.0)
    store.report(running.id, progress)
    try:
        at = fresh()
        at.switch_page("dashboard/pages/runs.py").run()
        assert not at.exception
        shown = at.dataframe[0].value
        row = shown[shown["id"] == running.id].iloc[0]
        assert row["status"] == "running" and row["progress"] == "75% · about 30 s left" and row["data"] == "blobs"
    finally:
        store.fail(running.id, "test over")
