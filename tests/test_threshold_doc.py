import json

import pytest
from conftest import blobs

from embaug_core.errors import ThresholdFileError
from embaug_core.evaluation.threshold_file import ThresholdDocument, load_threshold
from embaug_core.evaluation.thresholds import ThresholdSweep
from embaug_core.training.config import TrainConfig
from embaug_core.training.trained_head import TrainedHead


@pytest.fixture(scope="module")
def head():
    x, labels = blobs(per_class=10)
    return TrainedHead.train(x, labels, TrainConfig(epochs=1))


def test_document_round_trip(tmp_path, head):
    point = ThresholdSweep([0.9, 0.2], [True, False], [False, True]).at(0.5)
    doc = ThresholdDocument.create(threshold=0.5, source="ratio", head=head, validation_point=point, model_path="m")
    doc.save(tmp_path / "t.json")
    back = load_threshold(tmp_path / "t.json")
    assert back == doc
    d = json.loads((tmp_path / "t.json").read_text())
    assert d["schema"] == "embaug.threshold" and d["version"] == 1
    assert d["validation"] == {
        "id_accuracy": 1.0,
        "none_accuracy": 1.0,
        "overall_accuracy": 1.0,
        "n_id": 1,
        "n_none": 1,
    }
    back.check_model(head)


RISK = {"max_error_rate": 0.1, "delta": 0.1, "n_known": 90, "n_none": 30, "p_value": 0.01, "method": "LTT"}


def test_heuristic_4_and_the_calibration_record_round_trip_and_old_files_still_load(tmp_path, head):
    """A file with heuristic 4's record and the live check's calibration rows reads back equal, and its
    check_batch runs; a file written before both (no 'risk', no 'calibration') loads, and has no check."""
    import numpy as np

    from embaug_core.evaluation.live_check import CalibrationRecord
    from embaug_core.evaluation.risk_control import RiskControlledThreshold

    risk = RiskControlledThreshold.from_dict(
        {**RISK, "max_false_rejection": None, "holds": True, "error_rate": 0.05, "coverage": 0.7,
         "false_rejection": 0.04},
        threshold=0.6,
    )  # fmt: skip
    record = CalibrationRecord.of(np.linspace(0, 1, 101), 0.6, "101 rows")
    doc = ThresholdDocument.create(threshold=0.6, source="risk", head=head, risk=risk, calibration=record)
    doc.save(tmp_path / "r.json")
    back = load_threshold(tmp_path / "r.json")
    assert back == doc and back.risk["max_error_rate"] == 0.1 and back.calibration["refused"] == 60
    assert RiskControlledThreshold.from_dict(back.risk, threshold=back.threshold).sentence() == risk.sentence()
    check = back.check_batch(np.linspace(0, 1, 300))
    assert check.tested and not check.shifted
    old = _valid(head)  # the fields of a version-1 file before heuristic 4
    assert "risk" not in old and "calibration" not in old
    assert load_threshold(json.dumps(old).encode()).check_batch(np.ones(300)) is None


def _valid(head):
    return ThresholdDocument.create(threshold=0.4, source="manual", head=head).to_dict()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(schema="other"), "'schema' must be"),
        (lambda d: d.update(version=2), "'version' 2 is not supported"),
        (lambda d: d.update(threshold=1.5), r"'threshold' must be a number in \[0, 1\]"),
        (lambda d: d.update(threshold=-0.1), r"\[0, 1\]"),
        (lambda d: d.update(threshold="0.5"), "'threshold' must be a number"),
        (lambda d: d.update(threshold=True), "'threshold' must be a number"),
        (lambda d: d.update(source="guess"), "'source' must be one of"),
        (lambda d: d.pop("class_names"), "missing field"),
        (lambda d: d.update(class_names=["a", "a"]), "repeats"),
        (lambda d: d.update(model={"fingerprint": "md5:1"}), "fingerprint"),
        (lambda d: d["validation"].update(id_accuracy=2), "validation.id_accuracy"),
        (lambda d: d.update(created="yesterday"), "ISO 8601"),
        (lambda d: d.update(risk={"max_error_rate": 0.1}), "'risk' must be an object with"),
        (lambda d: d.update(risk={**RISK, "delta": 1.5}), "'risk.delta' must be a number strictly between"),
        (lambda d: d.update(calibration={"n": 3, "refused": 4, "confidences": [0.5]}), "'calibration' must be"),
        (lambda d: d.update(calibration={"n": 3, "refused": 1, "confidences": [1.5]}), "calibration.confidences"),
    ],
)
def test_schema_errors(head, change, message):
    d = _valid(head)
    change(d)
    with pytest.raises(ThresholdFileError, match=message):
        load_threshold(json.dumps(d).encode())


def test_not_json_and_wrong_model(head):
    with pytest.raises(ThresholdFileError, match="not valid UTF-8 JSON"):
        load_threshold(b"\x80\x81")
    d = _valid(head)
    d["class_names"] = ["zz"] + d["class_names"][1:]
    with pytest.raises(ThresholdFileError, match="does not know: 'zz'"):
        load_threshold(json.dumps(d).encode()).check_model(head)
    d = _valid(head)
    d["model"]["fingerprint"] = "sha256:00"
    with pytest.raises(ThresholdFileError, match="different model"):
        load_threshold(json.dumps(d).encode()).check_model(head)
