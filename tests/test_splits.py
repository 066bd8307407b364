import numpy as np
import pytest

from embaug_core.data.splits import NoneProtocol, make_trials, threshold_validation_split, trial_split
from embaug_core.errors import ConfigError

LABELS = np.array([f"c{i % 20}" for i in range(1000)] + [None] * 10, dtype=object)


def test_trial_split_partitions_labelled_rows():
    s = trial_split(LABELS, train_fraction=0.1, seed=0)
    assert len(s.train_idx) == 100
    assert len(np.intersect1d(s.train_idx, s.eval_idx)) == 0
    assert len(s.train_idx) + len(s.eval_idx) == 1000  # unlabelled rows are in neither
    assert set(s.none_classes).isdisjoint(s.train_classes)
    assert s.train_classes == tuple(sorted({LABELS[i] for i in s.train_idx}))


def test_unseen_classes_by_count_and_by_name():
    s = trial_split(LABELS, unseen_classes=4, seed=1)
    assert len(s.none_classes) >= 4
    held = [c for c in s.none_classes]
    assert all(LABELS[i] not in held for i in s.train_idx)
    s2 = trial_split(LABELS, unseen_classes=["c3", "c7"], seed=1)
    assert {"c3", "c7"} <= set(s2.none_classes)


def test_none_label_is_never_trained_on():
    labels = LABELS.copy()
    labels[:50] = "other"
    s = trial_split(labels, none_label="other", seed=0)
    assert "other" in s.none_classes and "other" not in s.train_classes


def test_classes_absent_from_a_small_training_set_become_none():
    labels = np.array(["a"] * 95 + ["b"] * 95 + ["rare"] * 2, dtype=object)
    found = [trial_split(labels, train_fraction=0.05, seed=k).none_classes for k in range(10)]
    assert any("rare" in f for f in found)


def test_same_seed_same_split_different_seed_different_split():
    a, b, c = trial_split(LABELS, seed=3), trial_split(LABELS, seed=3), trial_split(LABELS, seed=4)
    assert np.array_equal(a.train_idx, b.train_idx)
    assert not np.array_equal(a.train_idx, c.train_idx)


def test_threshold_validation_split():
    s = trial_split(LABELS, train_fraction=0.5, seed=0)
    v = threshold_validation_split(LABELS, s.train_idx, seed=0)
    assert set(v.train_idx) | set(v.eval_idx) == set(s.train_idx)
    assert len(set(v.train_idx) & set(v.eval_idx)) == 0
    assert len(v.none_classes) == 5  # the 5 removed classes appear only in validation
    assert len(v.eval_idx) >= round(0.3 * len(s.train_idx))


def test_threshold_validation_split_caps_removed_classes():
    labels = np.array(["a", "b", "c"] * 20, dtype=object)
    v = threshold_validation_split(labels, np.arange(60), seed=0)
    assert len(v.train_classes) == 2 and len(v.none_classes) == 1


def test_make_trials_seeds():
    trials = make_trials(LABELS, 3, seed=10)
    assert [t.seed for t in trials] == [10, 11, 12]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"train_fraction": 1.0}, "train_fraction"),
        ({"unseen_classes": 19}, "at least 2 must stay"),
        ({"unseen_classes": ["nope"]}, "not found"),
        ({"train_fraction": 0.001}, "need at least 2"),
    ],
)
def test_bad_split_settings(kw, message):
    with pytest.raises(ConfigError, match=message):
        trial_split(LABELS, **kw)


@pytest.mark.parametrize(
    "protocol",
    [
        NoneProtocol(kind="random", train_fraction=0.3, unseen_classes=4),
        NoneProtocol(kind="holdout", train_fraction=0.1, unseen_classes=0, held_out=("a", "b")),
        NoneProtocol(kind="none_label", train_fraction=0.5, unseen_classes=0, none_label="oos"),
    ],
)
def test_a_protocol_is_read_back_from_the_split_arguments_an_experiment_keeps(protocol):
    kw = protocol.split_kwargs()
    assert NoneProtocol.of_split(train_fraction=protocol.train_fraction, **kw) == protocol
