"""EmbaugClassifier passes scikit-learn's estimator checks and works inside its tools."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from embaug_core.training.estimator import EmbaugClassifier


@parametrize_with_checks([EmbaugClassifier(recipe="fixed", epochs=12, method="e_stitchup")])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def blobs_xy():
    from conftest import blobs

    x, labels = blobs(n_classes=4, per_class=40, dim=8, spread=2.0, seed=3)
    return x, np.asarray(labels)


def test_every_train_config_field_is_a_parameter():
    from dataclasses import fields

    from embaug_core.training.config import TrainConfig

    params = EmbaugClassifier().get_params()
    assert {f.name for f in fields(TrainConfig)} <= set(params)
    assert set(params) - {f.name for f in fields(TrainConfig)} == {"threshold", "none_label"}
    assert EmbaugClassifier(recipe="fixed", alpha=0.7, epochs=3).train_config() == TrainConfig(alpha=0.7, epochs=3)


def test_in_a_pipeline_and_grid_search(blobs_xy):
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = blobs_xy
    pipe = make_pipeline(StandardScaler(), EmbaugClassifier(recipe="fixed", method="e_mixup", epochs=6))
    assert cross_val_score(pipe, x, y, cv=3).mean() > 0.8
    grid = GridSearchCV(pipe, {"embaugclassifier__alpha": [0.2, 1.0]}, cv=2).fit(x, y)
    assert grid.best_params_["embaugclassifier__alpha"] in (0.2, 1.0)
    assert set(grid.predict(x)) <= set(y)


def test_frozen_head_calibrated_by_scikit_learn(blobs_xy):
    from sklearn.calibration import CalibratedClassifierCV, calibration_curve
    from sklearn.frozen import FrozenEstimator

    x, y = blobs_xy
    head = EmbaugClassifier(recipe="fixed", epochs=6).fit(x[::2], y[::2])
    calibrated = CalibratedClassifierCV(FrozenEstimator(head), method="temperature").fit(x[1::2], y[1::2])
    probs = calibrated.predict_proba(x)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    np.testing.assert_array_equal(probs.argmax(1), head.predict_proba(x).argmax(1))  # a temperature keeps the argmax
    binary = y[:80] == y[0]
    # the numbers CalibrationDisplay draws (it needs matplotlib, which embaug does not)
    p1 = EmbaugClassifier(recipe="fixed", epochs=4).fit(x[:80], binary).predict_proba(x[:80])[:, 1]
    prob_true, prob_pred = calibration_curve(binary, p1, n_bins=5)
    assert len(prob_true) == len(prob_pred) >= 1


def test_threshold_answers_none_through_the_one_rule(blobs_xy):
    from embaug_core.evaluation.thresholds import route

    x, y = blobs_xy
    clf = EmbaugClassifier(recipe="fixed", epochs=6, threshold=0.9, none_label="none").fit(x, y)
    s = clf.predict_sigmoid(x)
    np.testing.assert_array_equal(clf.predict(x), route(s, 0.9, clf.classes_))
    assert (clf.predict(x) == "none").any() and clf.score(x, y) <= clf.set_params(threshold=None).score(x, y)


def test_binary_decision_function_orders_like_predict_proba():
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = (x[:, 0] > 0).astype(int)
    clf = EmbaugClassifier(recipe="fixed", epochs=5).fit(x, y)
    d, p = clf.decision_function(x), clf.predict_proba(x)[:, 1]
    assert d.shape == (60,)
    np.testing.assert_array_equal(rankdata(d), rankdata(p))
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[(d > 0).astype(int)])


def test_same_head_as_the_library(blobs_xy):
    from embaug_core.training.config import TrainConfig
    from embaug_core.training.trained_head import TrainedHead

    x, y = blobs_xy
    clf = EmbaugClassifier(recipe="fixed", method="e_stitchup", epochs=4, seed=5, device="cpu").fit(x, y)
    head = TrainedHead.train(x, y, TrainConfig(method="e_stitchup", epochs=4, seed=5, device="cpu"))
    np.testing.assert_allclose(clf.predict_sigmoid(x), head.predict_proba(x), atol=1e-5)


def test_the_parameters_are_trainconfigs_fields_not_a_copy():
    """Every TrainConfig field is a parameter with the auto recipe's default (fast preset when fixed)."""
    import dataclasses

    from embaug_core.training.config import TrainConfig

    params = EmbaugClassifier().get_params()
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    assert list(params) == sorted([*fields, "threshold", "none_label"])
    base = TrainConfig.preset("fast", recipe="auto")
    assert EmbaugClassifier().train_config() == base
    assert EmbaugClassifier("e_stitchup", 0.2).train_config() == base.with_(method="e_stitchup", alpha=0.2)
    with pytest.raises(TypeError):
        EmbaugClassifier(learning_rate=0.1)
