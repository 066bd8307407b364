"""The exported confidence threshold: a small, versioned JSON document.

Schema ``embaug.threshold`` version 1::

    {
      "schema": "embaug.threshold",
      "version": 1,
      "threshold": 0.63,                      # in [0, 1]; accept when confidence >= threshold
      "source": "intersection" | "ratio" | "guaranteed" | "risk" | "manual",
      "score": "max_prob",                    # the none score whose confidence the threshold is in
                                              # (absent = max_prob); see embaug_core.evaluation.scores
      "score_params": {"knn_k": 1, "fused_weight": 0.5, "fused_z": [[m, s], [m, s]]},  # optional:
                                              # the fitted k, fused weight and its z scale used
      "guarantee": {"alpha": 0.05, "delta": 0.1, "n": 812, "k": 30, ...},   # heuristic 3 only
      "risk": {"max_error_rate": 0.1, "delta": 0.1, "max_false_rejection": null, "n_known": 812,
               "n_none": 200, "p_value": 0.004, "method": "...", ...},     # heuristic 4 only
      "calibration": {"n": 1012, "refused": 180, "rows": "...", "confidences": [...]},  # optional:
                                              # what the live check compares a batch with
      "method": "e_stitchup",                 # training method of the head
      "class_names": ["...", ...],            # the head's classes, in output order
      "model": {"fingerprint": "sha256:...", "path": "models/x"},   # path optional
      "validation": {"id_accuracy": 0.8, "none_accuracy": 0.7, "overall_accuracy": 0.79,
                     "n_id": 120, "n_none": 30},                    # accuracies may be null
      "created": "2026-11-21T20:00:00+00:00"
    }

:func:`load_threshold` validates every field and :meth:`ThresholdDocument.check_model`
refuses a document that belongs to another head (different classes or weights).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ThresholdFileError
from ..jsonio import write_json_atomic

__all__ = ["SCHEMA", "VERSION", "SOURCES", "ThresholdDocument", "load_threshold"]

SCHEMA = "embaug.threshold"
VERSION = 1
SOURCES = ("intersection", "ratio", "guaranteed", "risk", "manual")
MAX_BYTES = 5_000_000


@dataclass(frozen=True)
class ThresholdDocument:
    """A confidence threshold and what it belongs to (see the module docstring)."""

    threshold: float
    source: str
    method: str
    class_names: tuple[str, ...]
    model_fingerprint: str
    validation: dict
    created: str
    model_path: str | None = None
    score: str = "max_prob"
    score_params: dict | None = None
    guarantee: dict | None = None
    risk: dict | None = None
    calibration: dict | None = None

    @classmethod
    def create(
        cls,
        *,
        threshold: float,
        source: str,
        head,
        validation_point=None,
        model_path=None,
        measured_on=None,
        score: str = "max_prob",
        guarantee=None,
        risk=None,
        calibration=None,
    ) -> ThresholdDocument:
        """Build a document for ``head`` (a TrainedHead) at ``threshold``.

        ``validation_point`` is an :class:`~embaug_core.evaluation.thresholds.OperatingPoint` measured on
        validation data at this threshold (optional); ``measured_on`` says in words which rows
        and which head those numbers come from (they may differ from numbers shown elsewhere).
        ``guarantee`` (heuristic 3's :class:`~embaug_core.evaluation.guarantee.GuaranteedThreshold`), ``risk``
        (heuristic 4's :class:`~embaug_core.evaluation.risk_control.RiskControlledThreshold`) and ``calibration``
        (a :class:`~embaug_core.evaluation.live_check.CalibrationRecord`, for the live check) are optional.
        """
        val = {"id_accuracy": None, "none_accuracy": None, "overall_accuracy": None, "n_id": None, "n_none": None}
        if measured_on is not None:
            val["measured_on"] = str(measured_on)
        if validation_point is not None:
            p = validation_point.to_dict()
            val.update({k: p[k] for k in ("id_accuracy", "none_accuracy", "overall_accuracy")})
            val["n_id"] = int(p["id_tp"] + p["id_fn"])
            val["n_none"] = int(p["none_tp"] + p["none_fn"])
        doc = cls(
            threshold=float(threshold),
            source=source,
            method=head.method,
            class_names=tuple(head.class_names),
            model_fingerprint=head.fingerprint,
            validation=val,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            model_path=None if model_path is None else str(model_path),
            score=score,
            score_params=None if score in ("max_prob", "energy") else head.score_bank().params(),
            guarantee=None if guarantee is None else guarantee.to_dict(),
            risk=None if risk is None else risk.to_dict(),
            calibration=None if calibration is None else calibration.to_dict(),
        )
        return cls.from_dict(doc.to_dict())  # one validation path for built and loaded documents

    def to_dict(self) -> dict:
        model = {"fingerprint": self.model_fingerprint}
        if self.model_path is not None:
            model["path"] = self.model_path
        return {
            "schema": SCHEMA,
            "version": VERSION,
            "threshold": self.threshold,
            "source": self.source,
            "method": self.method,
            "class_names": list(self.class_names),
            "model": model,
            "validation": dict(self.validation),
            "created": self.created,
            "score": self.score,
            **({"score_params": dict(self.score_params)} if self.score_params else {}),
            **({"guarantee": dict(self.guarantee)} if self.guarantee else {}),
            **({"risk": dict(self.risk)} if self.risk else {}),
            **({"calibration": dict(self.calibration)} if self.calibration else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def save(self, path: str | Path) -> Path:
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def from_dict(cls, d, *, where: str = "threshold document") -> ThresholdDocument:
        def bad(msg):
            return ThresholdFileError(f"{where}: {msg}")

        if not isinstance(d, dict):
            raise bad("must be a JSON object.")
        if d.get("schema") != SCHEMA:
            raise bad(f"'schema' must be {SCHEMA!r}; got {d.get('schema')!r}. Is this an embaug threshold file?")
        if d.get("version") != VERSION:
            raise bad(f"'version' {d.get('version')!r} is not supported (this embaug reads version {VERSION}).")
        missing = [
            k for k in ("threshold", "source", "method", "class_names", "model", "validation", "created") if k not in d
        ]
        if missing:
            raise bad(f"missing field(s): {', '.join(missing)}.")
        t = d["threshold"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0.0 <= t <= 1.0:
            raise bad(f"'threshold' must be a number in [0, 1]; got {t!r}.")
        if d["source"] not in SOURCES:
            raise bad(f"'source' must be one of {', '.join(SOURCES)}; got {d['source']!r}.")
        if not isinstance(d["method"], str) or not d["method"]:
            raise bad("'method' must be a non-empty string.")
        names = d["class_names"]
        if not isinstance(names, list) or len(names) < 2 or not all(isinstance(c, str) and c for c in names):
            raise bad("'class_names' must be a list of at least 2 non-empty strings.")
        if len(set(names)) != len(names):
            raise bad("'class_names' repeats a class.")
        model, val = d["model"], d["validation"]
        _check_model_and_validation(model, val, bad)
        try:
            datetime.fromisoformat(str(d["created"]))
        except ValueError:
            raise bad(f"'created' must be an ISO 8601 time; got {d['created']!r}.") from None
        score, params, guarantee = _check_score(d, bad)
        risk, calibration = _check_risk(d, bad)
        return cls(
            score=score,
            score_params=params,
            guarantee=guarantee,
            risk=risk,
            calibration=calibration,
            threshold=float(t),
            source=d["source"],
            method=d["method"],
            class_names=tuple(names),
            model_fingerprint=model["fingerprint"],
            validation=dict(val),
            created=str(d["created"]),
            model_path=model.get("path"),
        )

    def check_batch(self, confidence, *, level: float = 0.01):
        """The live check (:func:`~embaug_core.evaluation.live_check.check_batch`) of a batch's confidences (m,),
        on this file's score, against the calibration rows it keeps; None for a file without them (older)."""
        from .live_check import CalibrationRecord, check_batch

        if self.calibration is None:
            return None
        return check_batch(CalibrationRecord.from_dict(self.calibration), confidence, self.threshold, level=level)

    def check_model(self, head) -> None:
        """Raise :class:`ThresholdFileError` unless this document belongs to ``head``."""
        mine, theirs = list(self.class_names), list(head.class_names)
        if mine != theirs:
            unknown = [c for c in mine if c not in theirs]
            absent = [c for c in theirs if c not in mine]
            if unknown:
                detail = f"it names class(es) the model does not know: {', '.join(map(repr, unknown[:5]))}"
            elif absent:
                detail = f"it lacks the model's class(es) {', '.join(map(repr, absent[:5]))}"
            else:
                detail = "the class order differs"
            raise ThresholdFileError(f"the threshold file does not belong to this model: {detail}.")
        if self.model_fingerprint != head.fingerprint:
            raise ThresholdFileError(
                "the threshold file was made for a different model (weights fingerprint differs); "
                "export a threshold for this model, or pass a plain number instead."
            )


def _check_score(d: dict, bad) -> tuple[str, dict | None, dict | None]:
    """The optional 'score', 'score_params' and 'guarantee' fields."""
    from .scores import SCORE_NAMES

    score = d.get("score", "max_prob")
    if score not in SCORE_NAMES:
        raise bad(f"'score' must be one of {', '.join(SCORE_NAMES)}; got {score!r}.")
    params = d.get("score_params")
    if params is not None:
        k, w = (params.get("knn_k"), params.get("fused_weight")) if isinstance(params, dict) else (None, None)
        if not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
            raise bad("'score_params.knn_k' must be a whole number >= 1.")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= w <= 1.0:
            raise bad("'score_params.fused_weight' must be a number in [0, 1].")
        fz = params.get("fused_z")
        ok = isinstance(fz, list) and len(fz) == 2 and all(isinstance(p, list) and len(p) == 2 for p in fz)
        if not ok or not all(isinstance(v, (int, float)) and math.isfinite(v) for p in fz for v in p):
            raise bad("'score_params.fused_z' must be two [mean, std] pairs of numbers.")
        params = {"knn_k": k, "fused_weight": float(w), "fused_z": [[float(v) for v in p] for p in fz]}
    guarantee = d.get("guarantee")
    if guarantee is not None:
        ok = isinstance(guarantee, dict) and all(k in guarantee for k in ("alpha", "delta", "n", "k"))
        if not ok:
            raise bad("'guarantee' must be an object with 'alpha', 'delta', 'n' and 'k'.")
    return score, params, None if guarantee is None else dict(guarantee)


def _check_risk(d: dict, bad) -> tuple[dict | None, dict | None]:
    """The optional 'risk' (heuristic 4) and 'calibration' (the live check's record) fields."""
    from .live_check import CalibrationRecord

    risk = d.get("risk")
    if risk is not None:
        keys = ("max_error_rate", "delta", "n_known", "n_none", "p_value", "method")
        if not isinstance(risk, dict) or not all(k in risk for k in keys):
            raise bad(f"'risk' must be an object with {', '.join(map(repr, keys))}.")
        for k in ("max_error_rate", "delta"):
            v = risk[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < v < 1.0:
                raise bad(f"'risk.{k}' must be a number strictly between 0 and 1; got {v!r}.")
        risk = dict(risk)
    calibration = d.get("calibration")
    if calibration is not None:
        calibration = CalibrationRecord.from_dict(calibration, bad=bad).to_dict()
    return risk, calibration


def _check_model_and_validation(model, val, bad) -> None:
    """The 'model' and 'validation' objects of a threshold document; ``bad(msg)`` makes the error."""
    fingerprint = model.get("fingerprint") if isinstance(model, dict) else None
    if not isinstance(fingerprint, str) or not fingerprint.startswith("sha256:"):
        raise bad("'model' must be an object with a 'fingerprint' of the form 'sha256:<hex>'.")
    if model.get("path") is not None and not isinstance(model["path"], str):
        raise bad("'model.path' must be a string.")
    if not isinstance(val, dict):
        raise bad("'validation' must be an object.")
    if val.get("measured_on") is not None and not isinstance(val["measured_on"], str):
        raise bad("'validation.measured_on' must be a string.")
    for k in ("id_accuracy", "none_accuracy", "overall_accuracy"):
        v = val.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0):
            raise bad(f"'validation.{k}' must be null or a number in [0, 1]; got {v!r}.")
    for k in ("n_id", "n_none"):
        v = val.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise bad(f"'validation.{k}' must be null or a whole number >= 0; got {v!r}.")


def load_threshold(source: str | Path | bytes) -> ThresholdDocument:
    """Read and validate a threshold document from a path or raw bytes."""
    if isinstance(source, (bytes, bytearray)):
        data, where = bytes(source), "threshold file"
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise ThresholdFileError(f"{path}: no such threshold file.")
        if path.stat().st_size > MAX_BYTES:
            raise ThresholdFileError(f"{path}: {path.stat().st_size} bytes is too large for a threshold file.")
        data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise ThresholdFileError(f"{where}: too large for a threshold file.")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ThresholdFileError(f"{where}: not valid UTF-8 JSON ({exc}).") from None
    return ThresholdDocument.from_dict(obj, where=where)
