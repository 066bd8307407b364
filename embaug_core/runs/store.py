"""The run store: every experiment saved as one folder, reopened without retraining.

Where: ``$EMBAUG_HOME/runs`` (default ``~/.embaug/runs``); the data a run was trained on is kept
beside it in ``$EMBAUG_HOME/data``, by content hash. A run folder ``<id>/`` holds::

    run.json                 what the run is: id, name, created, status, data, methods, key metrics
    results.json             ExperimentResult.to_dict(): every table and per-trial number
    artifacts/<method>__<trial>/head/     the trained head (head.json, head.safetensors, scores.safetensors)
    artifacts/<method>__<trial>/arrays.npz  evaluation / validation probabilities (float64), labels,
                                           rows and each none score's confidences

**Complete or absent.** A run is written into a hidden ``.tmp-*`` folder beside the others and
renamed into place in one step; :meth:`RunStore.list` only lists folders with a readable
``run.json``, and leftovers of an interrupted save are removed by :meth:`RunStore.clean`. The
folder list *is* the index (nothing else to rebuild); moving or deleting a folder moves or
deletes the run. A training that fails is recorded as a run with status "failed" and its error,
and without results.

**Reopening** (:meth:`RunStore.load`) reads the tables from ``results.json`` and rebuilds each
head's in-memory artifacts from its saved head and arrays (the Calibration, Threshold and Queue
pages' inputs): the same probabilities give the same numbers, and nothing is retrained.

**Data** (:mod:`~embaug_core.runs.tables`): tables are saved once per content hash (embeddings, labels
and ids as NPZ) up to ``EMBAUG_DATA_CAP_MB`` (default 2,000 MB) in all; beyond it the least recently
used tables are evicted (their runs stay listed and readable; reopening them then needs the data
again). The bundled sample is never copied.

**Owners.** A store opened for a user (``RunStore(user="ana@example.org")``, as the dashboard does once
people sign in) records that user as the owner of every run it writes and of every table it stores, and
sees only that user's runs: :meth:`RunStore.list` leaves the others out, and every call that takes a run
id (open, rename, delete, export) refuses another user's run in the same words as a run that does not
exist. ``admin=True`` sees every run (the dashboard's admin list). A store opened without a user
(``embaug runs``, the single-user dashboard) is the machine owner's and sees everything. A table two
users uploaded is kept once (its content hash) and lists both as owners; a user reopens a run's table
only when listed, so the deduplication tells nobody what another user uploaded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import EmbaugError
from ..jsonio import write_json_atomic
from .tables import home, load_stored_dataset, store_dataset

__all__ = ["home", "RunInfo", "RunStore"]

RUN_SCHEMA = "embaug.run"
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunInfo:
    """One line of the run list (the content of ``run.json``)."""

    id: str
    name: str
    created: str
    status: str  # "running", "complete" or "failed"
    data: dict  # {"source", "fingerprint", "rows", "classes", "dim", "stored"}
    methods: list
    n_trials: int
    metrics: dict  # method -> {"auroc", "ece", "none_auroc"} (means over trials)
    error: str | None = None
    pid: int | None = None  # of the process training a "running" run
    progress: dict | None = None  # of a "running" run: {"fraction", "message", "eta_s", "updated"}
    owner: str | None = None  # the signed-in user who trained it; None: the machine owner's (no sign-in)

    def to_dict(self) -> dict:
        return {"schema": RUN_SCHEMA, **self.__dict__}

    @classmethod
    def from_dict(cls, d: dict) -> RunInfo:
        if d.get("schema") != RUN_SCHEMA:
            raise EmbaugError("not an embaug run description")
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _alive(pid: int | None) -> bool:
    """Whether a process with this pid runs on this machine (the store is local to one machine)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _metrics(result) -> dict:
    out = {}
    for m in result.methods:
        recs = result.by_method(m)
        found = [r.none_scores["max_prob"].auroc for r in recs if "max_prob" in r.none_scores]
        none = [v for v in found if not np.isnan(v)]
        out[m] = {
            "auroc": float(np.nanmean([r.auroc for r in recs])),
            "ece": float(np.nanmean([r.calibration.ece for r in recs])),
            "none_auroc": float(np.nanmean(none)) if any(none) else None,
        }
    return out


def _new_id(name: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "run"
    return f"{stamp}-{slug}-{uuid.uuid4().hex[:6]}"


class RunStore:
    """The runs under ``root`` (default ``home() / "runs"``); see the module docstring.

    Parameters
    ----------
    root : folder of the runs; the stored tables are in its sibling ``data``
    user : the signed-in user this store serves: it owns what the store writes and sees only its own
        runs (unless ``admin``). None: the machine owner's store, which sees every run.
    admin : with ``user``, see (open, rename, delete) every user's runs
    """

    def __init__(self, root: str | Path | None = None, *, user: str | None = None, admin: bool = False):
        self.root = Path(root) if root is not None else home() / "runs"
        if user is not None and not str(user).strip():
            raise EmbaugError("a run store's user cannot be empty.")
        self.user = None if user is None else str(user)
        self.admin = bool(admin)

    def sees(self, info: RunInfo) -> bool:
        """Whether this store shows ``info``: every run for the machine owner and admins, else the user's own."""
        return self.user is None or self.admin or info.owner == self.user

    @property
    def data_root(self) -> Path:
        return self.root.parent / "data"

    # ------------------------------------------------------------------ writing

    def begin(self, *, name: str, config=None, source: str | None = None) -> RunInfo:
        """Record a training that starts now (status "running", this process's pid). If the process
        dies before :meth:`save` or :meth:`fail` (kill -9, power loss), :meth:`list` finds the pid
        gone and marks the run failed. ``source``: the data's name, shown in the run list."""
        info = self._bare(name, "running", config, pid=os.getpid(), owner=self.user)
        if source is not None:
            info = RunInfo(**{**info.__dict__, "data": {"source": str(source)}})
        return self._commit(info, lambda tmp: None)

    def report(self, run_id: str, progress) -> None:
        """Record how far a running run is (an :class:`~embaug_core.experiment.config.ExperimentProgress`),
        so that a run list read from another process (the Runs page after a reload) shows it."""
        eta = progress.eta_s
        info = RunInfo(
            **{
                **self.info(run_id).__dict__,
                "progress": {
                    "fraction": round(float(progress.fraction), 4),
                    "message": str(progress.message),
                    "eta_s": None if eta != eta else round(float(eta), 1),
                    "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                },
            }
        )
        write_json_atomic(self._folder(run_id) / "run.json", info.to_dict())

    def fail(self, run_id: str, error: str) -> RunInfo:
        """Mark a running run failed, with its error."""
        info = RunInfo(
            **{**self.info(run_id).__dict__, "status": "failed", "error": str(error), "pid": None, "progress": None}
        )
        write_json_atomic(self._folder(run_id) / "run.json", info.to_dict())
        return info

    def _bare(self, name: str, status: str, config, **kw) -> RunInfo:
        return RunInfo(
            id=_new_id(name),
            name=name,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            status=status,
            data={},
            methods=list(config.methods) if config is not None else [],
            n_trials=config.n_trials if config is not None else 0,
            metrics={},
            **kw,
        )

    def save(self, result, *, name: str, dataset=None, replaces: str | None = None) -> RunInfo:
        """Save a finished :class:`~embaug_core.experiment.results.ExperimentResult` (with its artifacts when
        it has them) and the data it was trained on; returns its :class:`RunInfo`. ``replaces``:
        the id of the "running" record of this training (from :meth:`begin`), removed once the
        complete run is in place."""
        data = dict(result.dataset)
        data["fingerprint"] = None if dataset is None else dataset.fingerprint
        data["stored"] = bool(dataset is not None and store_dataset(dataset, self.data_root, owner=self.user))
        info = RunInfo(
            id=_new_id(name),
            name=name,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            status="complete",
            data=data,
            methods=list(result.methods),
            n_trials=result.config.n_trials,
            metrics=_metrics(result),
            owner=self.user,
        )

        def write(tmp: Path) -> None:
            write_json_atomic(tmp / "results.json", result.to_dict())
            for (method, trial), art in result.artifacts.items():
                _save_artifact(tmp / "artifacts" / f"{method}__{trial}", art)

        saved = self._commit(info, write)
        if replaces is not None:
            self.delete(replaces)
        return saved

    def save_failed(self, *, name: str, error: str, config=None) -> RunInfo:
        """Record a training that raised: a run with status "failed" and its error."""
        return self._commit(self._bare(name, "failed", config, error=str(error), owner=self.user), lambda tmp: None)

    def _commit(self, info: RunInfo, write) -> RunInfo:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{info.id}-{os.getpid()}"
        try:
            tmp.mkdir()
            write(tmp)
            write_json_atomic(tmp / "run.json", info.to_dict())
            os.replace(tmp, self.root / info.id)  # the run appears whole, in one step
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return info

    def rename(self, run_id: str, name: str) -> RunInfo:
        info = self.info(run_id)
        new = RunInfo(**{**info.__dict__, "name": str(name)})
        write_json_atomic(self._folder(run_id) / "run.json", new.to_dict())
        return new

    def delete(self, run_id: str) -> None:
        folder = self._folder(run_id)
        gone = self.root / f".tmp-deleted-{run_id}"
        os.replace(folder, gone)  # disappears from the list at once, then is removed
        shutil.rmtree(gone, ignore_errors=True)

    def clean(self) -> int:
        """Remove leftovers of interrupted saves and deletes; returns how many."""
        leftovers = [p for p in self.root.glob(".tmp-*")] if self.root.is_dir() else []
        for p in leftovers:
            shutil.rmtree(p, ignore_errors=True)
        return len(leftovers)

    # ------------------------------------------------------------------ reading

    def list(self, *, owner: str | None = None) -> list[RunInfo]:
        """Every readable run this store sees, newest first (folders without a readable ``run.json`` are
        skipped); ``owner``: only that user's (``embaug runs list --owner``)."""
        out = []
        for folder in self.root.glob("*") if self.root.is_dir() else []:
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                info = RunInfo.from_dict(json.loads((folder / "run.json").read_text()))
            except (OSError, ValueError, TypeError, KeyError, EmbaugError):
                continue
            if not self.sees(info) or (owner is not None and info.owner != owner):
                continue
            if info.status == "running" and not _alive(info.pid):
                info = self.fail(info.id, "the training process ended before the run was saved (killed or crashed)")
            out.append(info)
        return sorted(out, key=lambda r: (r.created, r.id), reverse=True)

    def _folder(self, run_id: str) -> Path:
        """The folder of a run this store sees. Another user's run is refused in the words of a missing
        one, and a user's store names no server path."""
        folder = self.root / str(run_id)
        found = re.fullmatch(r"[A-Za-z0-9_.-]+", str(run_id)) and (folder / "run.json").is_file()
        if found and self.user is not None and not self.admin:
            try:
                found = self.sees(RunInfo.from_dict(json.loads((folder / "run.json").read_text())))
            except (OSError, ValueError, TypeError, KeyError, EmbaugError):
                found = False
        if not found:
            if self.user is not None:
                raise EmbaugError(f"no run {run_id!r} among your runs.")
            raise EmbaugError(f"no run {run_id!r} in {self.root}; 'embaug runs list' shows the ids.")
        return folder

    def info(self, run_id: str) -> RunInfo:
        return RunInfo.from_dict(json.loads((self._folder(run_id) / "run.json").read_text()))

    def load(self, run_id: str):
        """The run's :class:`~embaug_core.experiment.results.ExperimentResult`, artifacts rebuilt (no retraining)."""
        from ..experiment.results import ExperimentResult

        folder = self._folder(run_id)
        info = self.info(run_id)
        if info.status != "complete":
            raise EmbaugError(f"run {run_id} failed ({info.error}); there is nothing to open.")
        try:
            result = ExperimentResult.load(folder / "results.json")
            n_bins = result.config.n_bins
            for sub in sorted((folder / "artifacts").glob("*__*")) if (folder / "artifacts").is_dir() else []:
                method, trial = sub.name.rsplit("__", 1)
                result.artifacts[(method, int(trial))] = _load_artifact(sub, n_bins)
        except (OSError, ValueError, KeyError, EmbaugError) as exc:
            if self.user is None:
                raise
            # a damaged file's error names the run's folder on the server: the log keeps it, the user is told what
            _LOG.error("run %s of %s cannot be reopened: %s", run_id, self.user, exc)
            raise EmbaugError(f"run {run_id!r} cannot be reopened: its files are damaged.") from None
        return result

    def stored_data(self, run_id: str):
        """The table ``run_id`` was trained on (an EmbeddingSet), when it was kept and this store's user is
        one of its owners (the machine owner and admins read every table); None otherwise."""
        info = self.info(run_id)
        if not info.data.get("stored") or not info.data.get("fingerprint"):
            return None
        reader = None if (self.user is None or self.admin) else self.user
        return load_stored_dataset(info.data["fingerprint"], self.data_root, owner=reader)

    def export(self, run_id: str, out: str | Path) -> Path:
        """The run folder as one ZIP file (to move it to another machine: unzip into its runs folder)."""
        folder = self._folder(run_id)
        out = Path(out)
        base = out.with_suffix("") if out.suffix == ".zip" else out
        return Path(shutil.make_archive(str(base), "zip", root_dir=folder.parent, base_dir=folder.name))


def _save_artifact(folder: Path, art) -> None:
    folder.mkdir(parents=True)
    if art.head is not None:
        art.head.save(folder / "head")
    arrays = {"probs": art.probs, "eval_idx": art.eval_idx, "val_probs": art.val_probs}
    arrays.update({"y_val": art.y_val, "y_eval": art.y_eval})
    for name, (val_conf, eval_conf) in art.by_score.items():
        arrays[f"score_val__{name}"], arrays[f"score_eval__{name}"] = val_conf, eval_conf
    np.savez(folder / "arrays.npz", **{k: np.asarray(v) for k, v in arrays.items() if v is not None})


def _load_artifact(folder: Path, n_bins: int):
    from ..evaluation.summary import evaluate
    from ..experiment.results import TrialArtifacts
    from ..training.trained_head import TrainedHead

    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    head = TrainedHead.load(folder / "head") if (folder / "head").is_dir() else None
    by_score = {
        k.removeprefix("score_val__"): (a[k], a["score_eval__" + k.removeprefix("score_val__")])
        for k in a
        if k.startswith("score_val__")
    }
    art = TrialArtifacts(
        head,
        evaluate(a["val_probs"], a["y_val"], n_bins=n_bins),
        evaluate(a["probs"], a["y_eval"], n_bins=n_bins),
        a["eval_idx"],
        a["probs"],
        by_score,
    )
    art.val_probs, art.y_val, art.y_eval = a["val_probs"], a["y_val"], a["y_eval"]
    return art
