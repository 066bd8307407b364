"""The "auto" recipe: settings from the data, best epoch and temperature from a validation split,
the "auto" method's choice; deterministic."""

import numpy as np
import pytest
import torch
from conftest import blobs

from embaug_core.errors import ConfigError
from embaug_core.evaluation.metrics import NONE
from embaug_core.training.config import TrainConfig
from embaug_core.training.engine import EpochRecord
from embaug_core.training.models import scale_model
from embaug_core.training.recipe import AutoRecipe, Checkpoint, checkpoint, resolve
from embaug_core.training.selection import rank, select_and_train
from embaug_core.training.trained_head import TrainedHead


@pytest.mark.parametrize(
    ("rows", "batch"),
    [(50, 64), (945, 128), (1350, 128), (1700, 128), (2000, 256), (4050, 512), (100_000, 512)],
)
def test_batch_and_learning_rate_follow_the_number_of_rows(rows, batch):
    c = resolve(TrainConfig.preset("auto", method="e_stitchup", alpha=0.7, seed=3), rows)
    assert c.recipe == "fixed" and c.batch_size == batch
    assert c.lr_max == pytest.approx(0.024 * (batch / 128) ** 0.5) and c.lr_min == pytest.approx(c.lr_max / 10)
    assert (c.lr_schedule, c.epochs, c.stop_epoch) == ("one_cycle", 96, 0)
    assert (c.method, c.alpha, c.seed) == ("e_stitchup", 0.7, 3)  # what the user chose is kept
    fixed = TrainConfig.preset("paper")
    assert resolve(fixed, rows) is fixed and fixed.preset_name == "paper"


def test_checkpoint_takes_the_lowest_validation_nll_and_a_temperature_that_lowers_it():
    history = [
        EpochRecord(e, 5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, monitor_nll=v) for e, v in enumerate([3, 2, 1, 1.5, 2], 1)
    ]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    logits = np.where(np.eye(4)[y] > 0, 2.0, -2.0) * 3 + rng.normal(size=(400, 4))  # over-confident
    y[:40] = NONE
    cp = checkpoint(history, logits, y)
    assert cp.best_epoch == 3 and cp.epochs_run == 5
    assert cp.temperature > 1 and cp.val_nll_scaled < cp.val_nll
    off = checkpoint(history, logits, y, AutoRecipe(temperature=False))
    assert off.temperature == 1.0 and off.val_nll_scaled == off.val_nll


def test_none_rows_weigh_the_none_share_of_the_held_out_nll():
    """AutoRecipe.none_share: held-out "none" rows weigh 0.25 in all whatever their number; None: as they come."""
    y = np.array([0, 1, 2, 0, 1, 2, NONE, NONE])  # 2 "none" rows of 8
    w = AutoRecipe().held_out_weights(y)
    np.testing.assert_allclose(w, [0.125] * 6 + [0.125] * 2)  # 0.75 / 6 per known row, 0.25 / 2 per none row
    w = AutoRecipe(none_share=0.5).held_out_weights(y)
    np.testing.assert_allclose(w, [0.5 / 6] * 6 + [0.25] * 2)
    assert AutoRecipe(none_share=None).held_out_weights(y) is None
    assert AutoRecipe().held_out_weights(np.array([0, 1])) is None  # no "none" rows: equal weights
    with pytest.raises(ConfigError, match="none_share"):
        AutoRecipe(none_share=1.0)
    # the checkpoint's NLLs are the weighted ones: a "none" row counted as many times as its weight asks
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 60)
    y[:5] = NONE  # 5 of 60 rows: the share 0.25 makes each "none" row weigh 0.05, each known 0.75 / 55
    logits = rng.normal(size=(60, 3)) * 3
    history = [EpochRecord(1, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, monitor_nll=1.0)]
    cp = checkpoint(history, logits, y, AutoRecipe(temperature=False))
    repeat = np.where(y == NONE, 11, 3)  # 11 : 3 = 0.05 : (0.75 / 55)
    flat = AutoRecipe(temperature=False, none_share=None)
    flat = checkpoint(history, np.repeat(logits, repeat, 0), np.repeat(y, repeat), flat)
    assert cp.val_nll == pytest.approx(flat.val_nll, rel=1e-9)
    assert cp.val_nll != pytest.approx(checkpoint(history, logits, y, AutoRecipe(none_share=None)).val_nll, rel=1e-3)


def test_head_temperature_top_label_fits_the_confidence_and_keeps_the_ranking_nll():
    """AutoRecipe.head_temperature="top_label": a head's T is fitted on its top class against "the top class is
    right" ("none" rows never right), with the same row weights; the NLL it is ranked by keeps the sigmoid fit."""
    from embaug_core.evaluation.temperature import fit_temperature

    history = [EpochRecord(1, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, monitor_nll=1.0)]
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 300)
    logits = np.where(np.eye(4)[y] > 0, 2.0, -2.0) * 2 + rng.normal(size=(300, 4)) * 2
    y[:60] = NONE
    sigmoid, recipe = checkpoint(history, logits, y), AutoRecipe(head_temperature="top_label")
    top = checkpoint(history, logits, y, recipe)
    expected = fit_temperature(logits, y, kind="top_label", weights=recipe.held_out_weights(y))
    assert top.temperature == pytest.approx(expected) and top.temperature != pytest.approx(
        sigmoid.temperature, rel=0.05
    )
    assert (top.val_nll_scaled, top.nll_temperature) == (sigmoid.val_nll_scaled, sigmoid.temperature)
    assert top.val_top_nll < sigmoid.val_top_nll  # what the top-label fit lowers
    with pytest.raises(ConfigError, match="head_temperature"):
        AutoRecipe(head_temperature="vector")


def test_scaling_the_last_layer_divides_the_logits():
    from embaug_core.training.heads import MLPHead

    head = MLPHead(6, 3, generator=torch.Generator().manual_seed(0)).eval()
    x = torch.randn(5, 6)
    before = head(x).detach()
    scale_model(head, 2.5)
    torch.testing.assert_close(head(x).detach(), before / 2.5)


def test_rank_prefers_lower_nll_and_breaks_near_ties_by_auroc():
    from embaug_core.training.recipe import Checkpoint

    def cp(nll):
        return Checkpoint(1, 1.0, nll, nll, 1, nll)

    choices = [("a", cp(0.500), 0.90), ("b", cp(0.501), 0.95), ("c", cp(0.40), 0.80), ("d", cp(0.401), 0.85)]
    assert rank(choices, AutoRecipe(nll_tie=0.002)) == [3, 2, 0, 1]  # d and c tie: AUROC; then by NLL
    assert rank(choices, AutoRecipe(nll_tie=0.0)) == [2, 3, 0, 1]


def test_rank_by_the_top_label_nll_when_told():
    from embaug_core.training.recipe import Checkpoint

    # "soft" has the lower NLL over all outputs, "plain" the better calibrated confidence
    soft, plain = Checkpoint(1, 0.3, 2.0, 0.56, 1, 0.61), Checkpoint(1, 0.6, 1.0, 0.75, 1, 0.42)
    choices = [("soft", soft, 0.89), ("plain", plain, 0.88)]
    assert rank(choices) == [0, 1]
    assert rank(choices, AutoRecipe(rank_by="top_label_nll")) == [1, 0]
    with pytest.raises(ConfigError, match="rank_by"):
        AutoRecipe(rank_by="top_label")


def test_top_label_nll_by_hand():
    from embaug_core.evaluation.metrics import top_label_nll

    probs = np.array([[0.8, 0.1], [0.3, 0.6], [0.9, 0.2]])
    y = np.array([0, 0, NONE])  # right at 0.8; wrong at 0.6; "none" at 0.9 is always wrong
    expected = -(np.log(0.8) + np.log(0.4) + np.log(0.1)) / 3
    assert top_label_nll(probs, y) == pytest.approx(expected, rel=1e-12)


def _data():
    x, labels = blobs(n_classes=8, per_class=30, dim=12, spread=2.0)
    names = sorted(set(labels))
    return x, labels, np.array([names.index(v) for v in labels]), names


def test_auto_training_is_deterministic_and_says_what_it_chose():
    x, _, y, names = _data()
    config = TrainConfig.preset("auto", method="e_stitchup", seed=1)
    a = select_and_train(x, y, names, [config], recipe=AutoRecipe(max_epochs=12))
    b = select_and_train(x, y, names, [config], recipe=AutoRecipe(max_epochs=12))
    xt = torch.as_tensor(x)
    assert torch.equal(a.head(xt), b.head(xt))  # bit-identical heads
    history, final, info = a.history, a.config, a.info
    assert info == {**b.info, "seconds": info["seconds"]}
    assert 1 <= info["best_epoch"] <= 12 and final.stop_epoch == info["best_epoch"] == len(history)
    assert info["validation"]["held_out_rows"] > 0 and len(info["validation"]["removed_classes"]) == 5
    assert info["temperature"] == info["validation"]["candidates"][0]["temperature"]


def test_the_auto_method_tries_every_method_and_grid_point_and_retrains_the_best():
    x, labels, _, _ = _data()
    head = TrainedHead.train_best(
        x,
        labels,
        TrainConfig.preset("auto", seed=0),
        methods=["control", "e_stitchup", "soft_control"],
        alphas=(0.2, 1.0),
        softnesses=(0.1,),
    )
    info = head.metadata["training"]
    candidates = info["validation"]["candidates"]
    heads = [c for c in candidates if c["method"] != "logreg" and " x" not in c["method"]]
    assert {(c["method"], c["alpha"], c["softness"]) for c in heads} == {
        ("control", 0.4, 0.1),
        ("e_stitchup", 0.2, 0.1),
        ("e_stitchup", 1.0, 0.1),
        ("soft_control", 0.4, 0.1),
    }
    # beside the heads: logistic regression at every C, and five seeds of the best head's settings
    assert sorted(c["C"] for c in candidates if c["method"] == "logreg") == [0.1, 1.0, 10.0]
    (ensemble,) = [c for c in candidates if " x" in c["method"]]
    keys = ("best_epoch", "temperature", "val_nll", "val_nll_scaled", "epochs_run", "val_top_nll")
    # the ensemble is made of the best head by the ranking among the heads alone
    best = heads[rank([(c["method"], Checkpoint.from_dict({k: c[k] for k in keys}), c["val_auroc"]) for c in heads])[0]]
    assert ensemble["method"] == f"{best['method']} x5" and ensemble["best_epoch"] == best["best_epoch"]
    assert (ensemble["alpha"], ensemble["softness"]) == (best["alpha"], best["softness"])
    assert len(candidates) == 4 + 3 + 1
    nll = [c["val_nll_scaled"] for c in candidates]
    assert nll[0] <= min(nll) + AutoRecipe().nll_tie  # the winner is first, by the stated criterion
    assert head.method == info["chosen"]["method"] == candidates[0]["method"]
    assert head.predict_proba(x).shape == (len(x), 8)


def test_too_few_rows_for_a_validation_split_train_the_budget_and_say_so():
    x, _, y, names = _data()
    auto = select_and_train(
        x[:16], y[:16] % 2, names[:2], [TrainConfig.preset("auto")], recipe=AutoRecipe(max_epochs=5)
    )
    history, info = auto.history, auto.info
    assert isinstance(info["validation"], str) and "fewer than" in info["validation"] and auto.held_out is None
    assert len(history) == 5 and info["temperature"] == 1.0


def test_scikit_learn_estimator_uses_the_auto_recipe_by_default():
    from embaug_core.training.estimator import EmbaugClassifier

    x, labels, _, _ = _data()
    clf = EmbaugClassifier(method="e_mixup").fit(x, labels)
    assert clf.training_["recipe"] == "auto" and clf.training_["best_epoch"] >= 1
    from sklearn.linear_model import LogisticRegression

    peer = (LogisticRegression(max_iter=2000).fit(x, labels).predict(x) == labels).mean()
    assert (clf.predict(x) == labels).mean() >= peer - 0.05  # overlapping blobs: as good as the peer


def test_the_final_head_takes_its_validation_heads_epochs_or_its_steps_over_all_rows():
    from embaug_core.training.recipe import final_config

    config = TrainConfig(batch_size=512, epochs=96, lr_schedule="one_cycle")
    assert final_config(config, 89, 4000, 15000) == config.with_(stop_epoch=89)  # default: the same epochs
    steps = AutoRecipe(final_length="steps")
    # 4,000 rows are 8 steps of 512 (the last one 416 rows), 15,000 rows 30: every epoch of all rows is 30 / 8
    # times longer, so 96 epochs become round(96 * 8 / 30) = 26 and the best epoch 89 becomes round(23.73) = 24
    final = final_config(config, 89, 4000, 15000, steps)
    assert (final.epochs, final.stop_epoch) == (26, 24)
    assert (final.batch_size, final.lr_max, final.method) == (config.batch_size, config.lr_max, config.method)
    assert final_config(config, 89, 4000, 4000, steps) == config.with_(stop_epoch=89)  # the same rows
    one = final_config(config, 1, 512, 100_000, steps)
    assert (one.epochs, one.stop_epoch) == (1, 1)
    logreg = config.with_(model="logreg", C=1.0)
    assert final_config(logreg, 0, 4000, 15000, steps) == logreg
    with pytest.raises(ConfigError, match="final_length"):
        AutoRecipe(final_length="rows")


def test_the_auto_recipe_trains_in_bfloat16_only_where_the_device_is_fast_at_it(monkeypatch):
    import embaug_core.device as device
    from embaug_core.training.engine import fit

    auto = TrainConfig.preset("auto", method="e_stitchup")
    monkeypatch.setattr(device, "fast_bfloat16", lambda name: True)
    assert resolve(auto, 1000).precision == "bfloat16"
    assert resolve(auto.with_(precision="float32"), 1000).precision == "float32"  # the user's choice stands
    assert resolve(auto, 1000, AutoRecipe(bfloat16=False)).precision == "float32"
    monkeypatch.setattr(device, "fast_bfloat16", lambda name: False)
    assert resolve(auto, 1000).precision == "float32"
    # a fixed preset's "auto" is float32: the same head as asking for float32
    x, _, y, names = _data()
    fast = TrainConfig.preset("fast", method="e_stitchup", epochs=3, device="cpu")
    assert fast.precision == "auto"
    a, _ = fit(x, y, len(names), fast)
    b, _ = fit(x, y, len(names), fast.with_(precision="float32"))
    c, _ = fit(x, y, len(names), fast.with_(precision="bfloat16"))
    xt = torch.as_tensor(x)
    assert torch.equal(a(xt), b(xt)) and not torch.equal(a(xt), c(xt))
    # bfloat16 products, float32 weights: the head is float32 and learns the blobs as well
    assert all(p.dtype == torch.float32 for p in c.parameters())
    acc = [(m(xt).argmax(1).numpy() == y).mean() for m in (b, c)]
    assert acc[1] >= acc[0] - 0.05, acc
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="half")
