"""The models a TrainedHead holds beside one MLP head: a deep ensemble and logistic regression (issue 23).

References are hand-computed or are the same computation done the plain way (heads trained one by one,
scikit-learn's own probabilities).
"""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import blobs

from embaug_core.evaluation.metrics import sigmoid
from embaug_core.evaluation.scores import SCORE_NAMES
from embaug_core.evaluation.temperature import fit_temperature
from embaug_core.evaluation.threshold_file import ThresholdDocument, load_threshold
from embaug_core.training.config import TrainConfig
from embaug_core.training.engine import fit
from embaug_core.training.estimator import EmbaugClassifier
from embaug_core.training.heads import HeadConfig, MLPHead
from embaug_core.training.logreg import LogisticRegressionBaseline
from embaug_core.training.models import EnsembleHead, SoftmaxHead, cross_fit, folds, scale_model, train_model
from embaug_core.training.recipe import AutoRecipe
from embaug_core.training.selection import rank, select_and_train
from embaug_core.training.trained_head import TrainedHead


def _data(n_classes=5, per_class=20, dim=8):
    x, labels = blobs(n_classes=n_classes, per_class=per_class, dim=dim, spread=2.0)
    names = sorted(set(labels))
    return x, labels, np.array([names.index(v) for v in labels]), names


def _constant_head(logits) -> MLPHead:
    """A head without hidden layers whose logits are ``logits`` for every row."""
    head = MLPHead(3, len(logits), HeadConfig(hidden=()))
    with torch.no_grad():
        head.layers[0].weight.zero_()
        head.layers[0].bias.copy_(torch.tensor(logits))
    return head.eval()


def test_an_ensemble_averages_its_members_probabilities_by_hand():
    # member probabilities 0.5 and 0.75 -> mean 0.625 -> logit log(0.625 / 0.375) = log(5 / 3)
    # and 0.9, 0.1 -> 0.5 -> logit 0
    ensemble = EnsembleHead([_constant_head([0.0, math.log(9)]), _constant_head([math.log(3), -math.log(9)])])
    z = ensemble(torch.zeros(2, 3)).detach().double()
    np.testing.assert_allclose(z.numpy(), [[math.log(5 / 3), 0.0]] * 2, atol=1e-6)
    scale_model(ensemble, 2.0)  # a temperature divides the ensemble's logit, not its members'
    np.testing.assert_allclose(
        ensemble(torch.zeros(1, 3)).detach().double().numpy(), [[math.log(5 / 3) / 2, 0.0]], atol=1e-6
    )
    # confident members give a finite logit: log(mean) is computed in log space
    sure = EnsembleHead([_constant_head([60.0, -60.0]), _constant_head([60.0, -60.0])])
    assert torch.isfinite(sure(torch.zeros(1, 3))).all()


def test_a_stacked_ensemble_equals_its_heads_trained_alone_and_averaged():
    x, _, y, names = _data()
    config = TrainConfig(method="e_stitchup", epochs=4, batch_size=16, seed=3, ensemble=3, device="cpu")
    ensemble, history = train_model(x, y, len(names), config)
    alone = [fit(x, y, len(names), config.with_(ensemble=1, seed=3 + i))[0] for i in range(3)]
    xt = torch.as_tensor(x)
    with torch.no_grad():
        p = np.mean([torch.sigmoid(h(xt).double()).numpy() for h in alone], axis=0)
        got = sigmoid(ensemble(xt).numpy())
    np.testing.assert_allclose(got, p, atol=1e-5)  # stacking changes only the summation order
    assert len(history) == 4 and isinstance(ensemble, EnsembleHead) and len(ensemble.members) == 3


def test_an_ensemble_head_saves_loads_and_serves_every_score(tmp_path):
    x, labels, _, _ = _data()
    head = TrainedHead.train(x, labels, TrainConfig(method="e_mixup", epochs=3, ensemble=2, seed=1))
    assert head.method == "e_mixup x2"
    head.save(tmp_path / "h")
    back = TrainedHead.load(tmp_path / "h")
    np.testing.assert_array_equal(back.predict_logits(x), head.predict_logits(x))
    for score in ("max_prob", "energy", "knn", "mahalanobis", "fused"):
        np.testing.assert_allclose(back.confidence(x[:7], score), head.confidence(x[:7], score))
    assert back.fingerprint == head.fingerprint


def test_logistic_regression_is_a_head_with_the_peers_probabilities(tmp_path):
    x, labels, y, names = _data()
    head = TrainedHead.train(x, labels, TrainConfig(model="logreg", C=0.5))
    peer = LogisticRegressionBaseline(C=0.5).fit(x.astype(np.float64), y, len(names))
    # sigmoid of the head's logits is the peer's softmax probability, class by class
    np.testing.assert_allclose(head.predict_proba(x), peer.predict_proba(x), atol=2e-5)
    assert head.method == "logreg" and head.history == []
    head.save(tmp_path / "lr")
    back = TrainedHead.load(tmp_path / "lr")
    assert isinstance(back.model, SoftmaxHead) and back.config.C == 0.5
    np.testing.assert_array_equal(back.predict_proba(x), head.predict_proba(x))
    np.testing.assert_allclose(back.confidence(x[:5], "knn"), head.confidence(x[:5], "knn"))
    doc = ThresholdDocument.create(threshold=0.4, source="manual", head=back)
    doc.save(tmp_path / "t.json")
    loaded = load_threshold(tmp_path / "t.json")
    loaded.check_model(head)  # the threshold file names this model, and it is the same one
    assert loaded.method == "logreg"


def test_a_softmax_head_folds_the_scaler_and_never_answers_an_unseen_class():
    x, _, y, names = _data(n_classes=3)
    head = SoftmaxHead.fit(x.astype(np.float64), np.where(y == 2, 0, y), len(names), C=1.0)  # class 2 never seen
    p = sigmoid(head(torch.as_tensor(x)).detach().numpy())
    assert p[:, 2].max() < 1e-12 and np.allclose(p.sum(1), 1.0, atol=1e-5)
    two = SoftmaxHead.fit(x.astype(np.float64), (y > 0).astype(int), 2, C=1.0)  # scikit-learn's one column
    peer = LogisticRegressionBaseline(C=1.0).fit(x.astype(np.float64), (y > 0).astype(int), 2)
    np.testing.assert_allclose(sigmoid(two(torch.as_tensor(x)).detach().numpy()), peer.predict_proba(x), atol=2e-5)


def test_the_estimator_takes_an_ensemble_or_logistic_regression():
    x, labels, _, _ = _data()
    for params in ({"model": "logreg", "C": 1.0}, {"ensemble": 2, "method": "e_stitchup"}):
        clf = EmbaugClassifier(recipe="fixed", epochs=3, **params).fit(x, labels)
        assert (clf.predict(x) == np.asarray(labels)).mean() > 0.8
        np.testing.assert_allclose(clf.predict_proba(x).sum(1), 1.0)


def test_the_selection_rule_is_deterministic():
    # equal log losses and AUROCs: the first listed wins; within the tie band the higher AUROC wins
    from embaug_core.training.recipe import Checkpoint

    def cp(nll):
        return Checkpoint(3, 1.0, nll, nll, 3, nll)

    assert rank([("a", cp(0.5), 0.9), ("b", cp(0.5), 0.9)]) == [0, 1]
    assert rank([("a", cp(0.5), 0.90), ("b", cp(0.501), 0.95), ("c", cp(0.6), 0.99)]) == [1, 0, 2]
    # the whole auto method, peers included, twice on the same rows: the same choice, the same model
    x, _, y, names = _data(n_classes=8, per_class=25)
    config = TrainConfig.preset("auto", method="e_stitchup", seed=2)
    recipe = AutoRecipe(max_epochs=8, lr_factors=(1.0,), ensemble=2, logreg_Cs=(1.0,))
    runs = [select_and_train(x, y, names, [config], recipe=recipe, peers=True) for _ in range(2)]
    a, b = runs
    assert a.info == {**b.info, "seconds": a.info["seconds"]}
    methods = [c["method"] for c in a.info["validation"]["candidates"]]
    assert sorted(methods) == ["e_stitchup", "e_stitchup x2", "logreg"]
    xt = torch.as_tensor(x)
    assert torch.equal(a.head(xt), b.head(xt))


@pytest.mark.parametrize("bad, message", [({"model": "tree"}, "model must be"), ({"C": 0}, "C must be")])
def test_bad_model_settings_say_which(bad, message):
    from embaug_core.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        TrainConfig(**bad)
    with pytest.raises(ConfigError, match="ensemble must be"):
        TrainConfig(ensemble=0)
    with pytest.raises(ConfigError, match="made of MLP heads"):
        TrainConfig(model="logreg", ensemble=3)


def test_regmixup_batches_hold_the_clean_rows_then_the_augmented_ones():
    from embaug_core.training.augment import get_method
    from embaug_core.training.draws import EpochPlan, augmented_batch

    x = torch.arange(24, dtype=torch.float32).reshape(6, 4)
    targets = torch.eye(3)[[0, 1, 2, 0, 1, 2]]
    config = TrainConfig(method="e_mixup", regmixup=True, batch_size=6)
    gen = torch.Generator().manual_seed(0)
    plan = EpochPlan.draw(6, [(0, 6)], get_method("e_mixup"), config, gen, "cpu")
    xb, yb = augmented_batch(x, targets, [plan], 0, 6, [get_method("e_mixup")], [config], [gen])
    assert xb.shape == (1, 12, 4) and yb.shape == (1, 12, 3)
    torch.testing.assert_close(xb[0, :6], x[plan.order])  # the clean rows, in the epoch's order
    torch.testing.assert_close(yb[0, :6], targets[plan.order])
    lam = plan.lam.unsqueeze(1)  # then E-Mixup's rows: lambda * row + (1 - lambda) * partner
    torch.testing.assert_close(xb[0, 6:], lam * x[plan.order] + (1 - lam) * x[plan.order][plan.partner])
    with pytest.raises(Exception, match="regmixup"):  # heads trained together share it
        from embaug_core.training.engine import fit_stacked

        fit_stacked(x.numpy(), np.array([0, 1, 2, 0, 1, 2]), 3, [config, config.with_(regmixup=False)])


def test_outlier_exposure_teaches_the_head_to_refuse_the_none_examples():
    x, _, y, names = _data(n_classes=4, per_class=30)
    far = np.random.default_rng(0).normal(6.0, 1.0, (60, x.shape[1])).astype(np.float32)
    config = TrainConfig(method="control", epochs=30, batch_size=32, device="cpu")
    plain, _ = fit(x, y, len(names), config)
    exposed, _ = fit(x, y, len(names), config, outliers=far)
    test = np.random.default_rng(1).normal(6.0, 1.0, (40, x.shape[1])).astype(np.float32)  # unseen, same region
    with torch.no_grad():
        conf = [torch.sigmoid(h(torch.as_tensor(test))).max(1).values.mean().item() for h in (plain, exposed)]
        known = torch.sigmoid(exposed(torch.as_tensor(x))).max(1).values.mean().item()
    assert conf[1] < 0.2 < conf[0] or conf[1] < conf[0] / 2  # refused after exposure
    assert known > 0.7  # and the known rows are still answered


def test_the_auto_methods_logreg_rows_round_trip_and_the_cli_says_what_won():
    from embaug_core.cli.head import describe_training
    from embaug_core.experiment import records
    from embaug_core.experiment.records import GridPoint
    from embaug_core.training.recipe import Checkpoint

    point = GridPoint(float("nan"), float("nan"), 0.97, Checkpoint(0, 1.2, 0.5, 0.4, 0, 0.3), "logreg", C=10.0)
    back = records._selection_row(point.to_dict())  # how a saved experiment reads its selection rows
    assert isinstance(back, GridPoint) and (back.method, back.C, back.checkpoint) == ("logreg", 10.0, point.checkpoint)
    assert math.isnan(back.alpha) and math.isnan(back.softness)
    x, labels, _, _ = _data()
    head = TrainedHead.train(x, labels, TrainConfig(model="logreg", C=10.0))
    assert describe_training(head) == "fitted logistic regression (C 10)"
    head.metadata["training"] = {
        "chosen": {"method": "logreg", "C": 10.0},
        "temperature": 1.25,
        "seconds": 2.0,
        "best_epoch": 0,
        "validation": "none: too few rows",
    }
    assert describe_training(head).startswith("chosen: logistic regression, C 10, temperature 1.250 (2.0s)")


def test_an_estimator_pickled_before_the_model_kinds_still_predicts():
    x, labels, _, _ = _data()
    clf = EmbaugClassifier(recipe="fixed", epochs=2).fit(x, labels)
    expected = clf.predict_proba(x)
    # what fit kept before 2026-11-30: float64 (weight, bias) pairs instead of a float64 copy of the module
    clf._inference = [(layer.weight.double().t(), layer.bias.double()) for layer in clf.model_.layers]
    np.testing.assert_allclose(clf.predict_proba(x), expected)


def test_folds_deal_every_class_over_the_folds_with_sizes_within_one():
    y = np.array([0] * 7 + [1] * 3 + [2] * 1)
    fold = folds(y, 3, seed=0)
    assert sorted(np.bincount(fold, minlength=3).tolist()) == [3, 4, 4]
    # rows are dealt in turn, class after class: class 0's 7 rows go 3/2/2, class 1's 3 rows one per fold
    assert sorted(np.bincount(fold[y == 0], minlength=3).tolist()) == [2, 2, 3]
    assert np.bincount(fold[y == 1], minlength=3).tolist() == [1, 1, 1]
    np.testing.assert_array_equal(fold, folds(y, 3, seed=0))  # the seed decides
    assert any(not np.array_equal(fold, folds(y, 3, seed=s)) for s in range(1, 6))


def test_a_cross_fitted_ensemble_is_its_fold_models_with_the_temperature_of_their_out_of_fold_logits():
    x, _, y, names = _data(per_class=24)  # 120 rows: three folds of 40, so no member leaves a row out
    config = TrainConfig(method="e_stitchup", epochs=4, batch_size=16, seed=3, ensemble=3, device="cpu")
    ensemble, history, t = cross_fit(x, y, len(names), config)
    fold = folds(y, 3, seed=3)
    # by hand: member k trained alone on the rows outside fold k, its logits on fold k's rows
    alone = [fit(x[fold != k], y[fold != k], len(names), config.with_(ensemble=1, seed=3 + k))[0] for k in range(3)]
    xt = torch.as_tensor(x)
    out_of_fold = np.empty((len(y), len(names)))
    with torch.no_grad():
        for k, head in enumerate(alone):
            out_of_fold[fold == k] = head(xt[fold == k]).double().numpy()
    assert t == pytest.approx(fit_temperature(out_of_fold, y), rel=1e-3) and t != 1.0
    # every member divided by T, then their sigmoid outputs averaged
    with torch.no_grad():
        p = np.mean([sigmoid(head(xt).double().numpy() / t) for head in alone], axis=0)
        got = sigmoid(ensemble(xt).double().numpy())
    np.testing.assert_allclose(got, p, atol=1e-4)
    assert len(history) == 4 and float(ensemble.temperature) == 1.0


def test_the_auto_method_cross_fits_its_ensemble_only_when_the_recipe_says_so(monkeypatch):
    from embaug_core.training import selection

    x, _, y, names = _data(n_classes=8, per_class=25)
    config = TrainConfig.preset("auto", method="e_stitchup", seed=2)
    # the ensemble made to win the ranking, whatever its NLL: what happens to the winner is under test
    monkeypatch.setattr(
        selection,
        "rank",
        lambda choices, recipe=None: sorted(range(len(choices)), key=lambda i: "x2" not in choices[i][0]),
    )
    recipe = AutoRecipe(max_epochs=8, lr_factors=(1.0,), ensemble=2, logreg_Cs=(1.0,))
    plain = select_and_train(x, y, names, [config], recipe=recipe, peers=True)
    crossed = select_and_train(x, y, names, [config], recipe=replace(recipe, cross_fit=True), peers=True)
    assert plain.info["chosen"]["method"] == crossed.info["chosen"]["method"] == "e_stitchup x2"
    assert "temperature_fit" not in plain.info and "cross-fitted" in crossed.info["temperature_fit"]
    # its members are the fold models of cross_fit, stopped where the validation split said, and its T theirs
    final = config.with_(
        **{
            k: getattr(crossed.config, k)
            for k in (
                "recipe",
                "batch_size",
                "lr_min",
                "lr_max",
                "lr_schedule",
                "epochs",
                "stop_epoch",
                "patience",
                "precision",
                "ensemble",
            )
        }
    )
    model, _, t = cross_fit(x, y, len(names), final)
    xt = torch.as_tensor(x)
    assert crossed.info["temperature"] == pytest.approx(t) and float(crossed.head.temperature) == 1.0
    assert torch.equal(crossed.head(xt), model(xt))
    # the validation split's ranking and the validation model are the same either way
    assert crossed.info["validation"] == plain.info["validation"]


def test_a_cross_fit_leaves_single_row_classes_out_of_its_temperature_and_refuses_what_it_cannot_fold():
    from embaug_core.errors import ConfigError

    x, _, y, names = _data(per_class=24)
    config = TrainConfig(method="e_stitchup", epochs=3, batch_size=16, seed=3, ensemble=3, device="cpu")
    # one more class with a single row: the member that predicts it out of fold never saw that class
    # (in place of one of class 0's rows: 120 rows, three equal folds, so the members are their alone selves)
    x1, y1 = np.vstack([x[1:], x[:1] + 10.0]), np.append(y[1:], len(names))
    _, _, t = cross_fit(x1, y1, len(names) + 1, config)
    fold = folds(y1, 3, seed=3)
    members = [
        fit(x1[fold != k], y1[fold != k], len(names) + 1, config.with_(ensemble=1, seed=3 + k))[0] for k in range(3)
    ]
    out_of_fold = np.empty((len(y1), len(names) + 1))
    with torch.no_grad():
        for k, head in enumerate(members):
            out_of_fold[fold == k] = head(torch.as_tensor(x1[fold == k])).double().numpy()
    assert t == pytest.approx(fit_temperature(out_of_fold[:-1], y1[:-1]), rel=1e-3)
    for bad in (config.with_(ensemble=1), config.with_(ensemble=80)):
        with pytest.raises(ConfigError, match="cross-fitted ensemble"):
            cross_fit(x, y, len(names), bad)


def test_embaug_train_says_where_a_cross_fitted_temperature_came_from():
    from embaug_core.cli.head import describe_training

    x, _, y, names = _data(n_classes=8, per_class=25)
    config = TrainConfig.preset("auto", method="e_stitchup", seed=2, ensemble=2)
    recipe = AutoRecipe(max_epochs=8, lr_factors=(1.0,), cross_fit=True)
    auto = select_and_train(x, y, names, [config], recipe=recipe)
    head = TrainedHead(
        model=auto.head,
        class_names=names,
        config=auto.config,
        input_dim=x.shape[1],
        history=auto.history,
        metadata={"training": auto.info},
    )
    text = describe_training(head)
    assert f"temperature {auto.info['temperature']:.3f} (out-of-fold rows of its 2 fold members (cross-fitted))" in text


def test_a_blend_is_its_head_and_logistic_regression_averaged_and_round_trips(tmp_path):
    """A blend (``blend_C``) is the MLP ensemble trained as alone and the peer fitted by scikit-learn at that C,
    their probabilities averaged half and half (by hand); it saves and loads without pickle and serves every
    score and a threshold file."""
    x, labels, y, names = _data()
    config = TrainConfig(method="e_stitchup", epochs=3, batch_size=16, seed=1, ensemble=2, blend_C=0.5, device="cpu")
    assert config.candidate == "e_stitchup x2 + logreg"
    model, history = train_model(x, y, len(names), config)
    alone, _ = train_model(x, y, len(names), config.with_(blend_C=0.0))
    peer = LogisticRegressionBaseline(C=0.5).fit(x.astype(np.float64), y, len(names))
    with torch.no_grad():
        expected = (sigmoid(alone(torch.as_tensor(x)).double().numpy()) + peer.predict_proba(x)) / 2
        got = sigmoid(model(torch.as_tensor(x)).double().numpy())
    np.testing.assert_allclose(got, expected, atol=3e-5)
    assert len(history) == 3 and isinstance(model.members[1], SoftmaxHead)
    scale_model(model, 2.0)  # the blend's own temperature divides the average's logit
    with torch.no_grad():
        halved = model(torch.as_tensor(x)).double().numpy()
    np.testing.assert_allclose(halved, np.log(expected / (1 - expected)) / 2, atol=2e-4)
    head = TrainedHead(model=model, class_names=names, config=config, input_dim=x.shape[1], history=history)
    head.fit_scores(x, y)
    head.save(tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["head.json", "head.safetensors", "scores.safetensors"]
    back = TrainedHead.load(tmp_path / "b")
    assert back.method == "e_stitchup x2 + logreg" and back.config.blend_C == 0.5
    np.testing.assert_array_equal(back.predict_logits(x), head.predict_logits(x))
    for score in SCORE_NAMES:
        np.testing.assert_allclose(back.confidence(x[:7], score), head.confidence(x[:7], score))
    ThresholdDocument.create(threshold=0.4, source="manual", head=back).save(tmp_path / "t.json")
    load_threshold(tmp_path / "t.json").check_model(head)
    from embaug_core.errors import ConfigError

    for bad in (-1.0, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ConfigError, match="blend_C must be a finite number >= 0"):
            TrainConfig(blend_C=bad)
    with pytest.raises(ConfigError, match="a blend averages an MLP head with logreg"):
        TrainConfig(model="logreg", blend_C=1.0)


def test_the_auto_method_blends_its_ensemble_with_the_best_logreg_only_when_the_recipe_says_so(monkeypatch):
    """``AutoRecipe.blend``: one more candidate, the ensemble averaged with the logistic regression that ranks
    first among the Cs, with a temperature fitted on it; when it wins, the final model is that blend trained on
    all rows, divided by that temperature."""
    from embaug_core.training import selection

    x, _, y, names = _data(n_classes=8, per_class=25)
    config = TrainConfig.preset("auto", method="e_stitchup", seed=2)
    recipe = AutoRecipe(max_epochs=8, lr_factors=(1.0,), ensemble=2, logreg_Cs=(0.1, 10.0))
    plain = select_and_train(x, y, names, [config], recipe=recipe, peers=True)
    assert not [c for c in plain.info["validation"]["candidates"] if "+ logreg" in c["method"]]
    ranked = selection.rank
    monkeypatch.setattr(  # the blend made to win; which C it takes is still the real ranking's
        selection,
        "rank",
        lambda choices, recipe=None: (
            ranked(choices, recipe)
            if all(c[0] == "logreg" for c in choices)
            else sorted(range(len(choices)), key=lambda i: "+ logreg" not in choices[i][0])
        ),
    )
    blended = select_and_train(x, y, names, [config], recipe=replace(recipe, blend=True), peers=True)
    candidates = blended.info["validation"]["candidates"]
    logregs = [c for c in plain.info["validation"]["candidates"] if c["method"] == "logreg"]
    best_C = min(logregs, key=lambda c: c["val_nll_scaled"])["C"]
    assert candidates[0]["method"] == "e_stitchup x2 + logreg" and candidates[0]["C"] == best_C
    assert blended.config.blend_C == best_C and blended.config.ensemble == 2
    assert blended.info["temperature"] == pytest.approx(candidates[0]["temperature"])
    assert blended.info["temperature"] != pytest.approx(1.0)  # so dividing by it once is visible below
    # the other candidates are untouched by the blend made of copies of their models
    others = [c for c in candidates if "+ logreg" not in c["method"]]
    assert sorted(others, key=str) == sorted(plain.info["validation"]["candidates"], key=str)
    final = blended.config.with_(blend_C=0.0)
    ensemble, _ = train_model(x, y, len(names), final)
    peer = SoftmaxHead.fit(x.astype(np.float64), y, len(names), best_C)
    xt = torch.as_tensor(x)
    with torch.no_grad():
        mean = (torch.sigmoid(ensemble(xt).double()) + torch.sigmoid(peer(xt).double())) / 2
        expected = torch.log(mean / (1 - mean)) / blended.info["temperature"]
        np.testing.assert_allclose(blended.head(xt).double().numpy(), expected.numpy(), atol=2e-4)


def test_a_blend_set_by_the_user_is_validated_as_a_blend_and_ranked_beside_the_peers():
    """A config with its own ``blend_C`` under the auto recipe (the estimator's ``blend_C``, ``train_best`` on a
    blend): its validation model is the blend, and its temperature is fitted on the blend's logits; in the auto
    method it is ranked beside logistic regression, with neither an ensemble nor a second blend made of it."""
    from embaug_core.evaluation.metrics import NONE
    from embaug_core.training.models import logits_of
    from embaug_core.training.recipe import checkpoint, validate

    x, _, y, names = _data(n_classes=6, per_class=20)
    recipe = AutoRecipe(max_epochs=6, lr_factors=(1.0,), ensemble=2, logreg_Cs=(1.0,), blend=True)
    config = TrainConfig.preset("auto", method="e_mixup", seed=1, blend_C=1.0).with_(batch_size=32)
    val = (y >= 4) | (np.arange(len(y)) % 3 == 0)  # a third of the rows held out, two classes as "none"
    y_val = np.where(y >= 4, NONE, y)[val]
    ((model, history, cp, logits),) = validate(x[~val], y[~val], 4, x[val], y_val, [config], recipe=recipe)
    assert isinstance(model, EnsembleHead) and isinstance(model.members[1], SoftmaxHead)
    raw = logits_of(model, x[val])
    assert cp == checkpoint(history, raw, y_val, recipe)  # T fitted on the blend, not on its head alone
    np.testing.assert_allclose(logits, raw / cp.temperature)
    auto = select_and_train(x, y, names, [config], recipe=recipe, peers=True)
    assert sorted(c["method"] for c in auto.info["validation"]["candidates"]) == ["e_mixup + logreg", "logreg"]
    clf = EmbaugClassifier(method="e_mixup", blend_C=1.0, seed=1).fit(x, np.asarray(names)[y])
    assert clf.training_["chosen"]["method"] == "e_mixup + logreg" and isinstance(clf.model_, EnsembleHead)
    np.testing.assert_allclose(clf.predict_proba(x).sum(1), 1.0)
