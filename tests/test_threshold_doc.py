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
