"""Heads trained together (fit_stacked) are the heads trained one by one, up to summation order."""

import numpy as np
import pytest
import torch
from conftest import blobs

from embaug_core.errors import ConfigError
from embaug_core.training.augment import METHOD_NAMES
from embaug_core.training.config import TrainConfig
from embaug_core.training.engine import fit, fit_stacked


def test_stacked_heads_equal_separately_trained_heads():
    x, labels = blobs(n_classes=6, per_class=30, dim=16)
    y = np.array([int(lab[1:]) for lab in labels])
    configs = [TrainConfig(method=m, epochs=4, alpha=0.3 + 0.1 * i, seed=i) for i, m in enumerate(METHOD_NAMES)]
    together, histories = fit_stacked(x, y, 6, configs, validation=(x[:50], y[:50]))
    xt = torch.as_tensor(x)
    for config, head, history in zip(configs, together, histories, strict=True):
        alone, alone_history = fit(x, y, 6, config, validation=(x[:50], y[:50]))
        np.testing.assert_allclose(head.predict_proba(xt).numpy(), alone.predict_proba(xt).numpy(), atol=1e-5)
        assert len(history) == 4
        for a, b in zip(history, alone_history, strict=True):
            assert a.train_loss == pytest.approx(b.train_loss, rel=1e-4)
            assert a.val_overall_accuracy == pytest.approx(b.val_overall_accuracy, abs=1e-6)
            assert a.lr == pytest.approx(b.lr)


def test_scoring_only_the_first_heads_leaves_their_histories_and_the_heads_as_they_were():
    """fit_stacked(scored_heads=n): the first n heads' per-epoch accuracies are those of a run that scores
    every head, the others' are NaN, and the heads and their losses are the same (scoring never trains)."""
    import math

    x, labels = blobs(n_classes=6, per_class=30, dim=16, spread=1.5)
    y = np.array([int(lab[1:]) for lab in labels])
    y[:20] = -1  # "none" rows in the validation rows: the none accuracy is measured too
    configs = [TrainConfig(method="e_stitchup", epochs=3, seed=s) for s in range(3)]
    val = (x[:60], y[:60])
    all_heads, all_hist = fit_stacked(x[20:], y[20:], 6, configs, validation=val)
    heads, hist = fit_stacked(x[20:], y[20:], 6, configs, validation=val, scored_heads=1)
    xt = torch.as_tensor(x)
    for a, b in zip(all_heads, heads, strict=True):
        np.testing.assert_array_equal(a.predict_proba(xt).numpy(), b.predict_proba(xt).numpy())
    for a, b in zip(all_hist[0], hist[0], strict=True):
        got = (b.val_overall_accuracy, b.val_id_accuracy, b.val_none_accuracy)
        assert got == (a.val_overall_accuracy, a.val_id_accuracy, a.val_none_accuracy) and a.train_loss == b.train_loss
    for h in hist[1:]:
        assert all(math.isnan(r.val_overall_accuracy) and math.isnan(r.val_none_accuracy) for r in h)
        assert all(r.train_loss > 0 for r in h)


def test_stacked_heads_must_share_the_schedule():
    with pytest.raises(ConfigError, match="must share 'epochs'"):
        fit_stacked(np.zeros((4, 2)), np.array([0, 1, 0, 1]), 2, [TrainConfig(epochs=2), TrainConfig(epochs=3)])


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
@pytest.mark.parametrize("schedule", ["one_cycle", "cyclic"])
def test_heads_at_different_learning_rates_train_together_as_they_do_alone(optimizer, schedule):
    """optim.HeadRates: the auto recipe's probes (one head at three peak rates) are one stacked run."""
    x, labels = blobs(n_classes=5, per_class=24, dim=12)
    y = np.array([int(lab[1:]) for lab in labels])
    xt = torch.as_tensor(x)
    base = TrainConfig(method="e_stitchup", epochs=4, batch_size=32, optimizer=optimizer, lr_schedule=schedule)
    configs = [base.with_(lr_min=f * 1e-3, lr_max=f * 1e-2, seed=3) for f in (0.125, 1.0, 2.5)]
    together, histories = fit_stacked(x, y, 5, configs)
    for config, head, history in zip(configs, together, histories, strict=True):
        alone, alone_history = fit(x, y, 5, config)
        np.testing.assert_allclose(head.predict_proba(xt).numpy(), alone.predict_proba(xt).numpy(), atol=2e-5)
        assert [r.lr for r in history] == pytest.approx([r.lr for r in alone_history], rel=1e-6)
    assert not np.allclose(together[0].predict_proba(xt).numpy(), together[2].predict_proba(xt).numpy(), atol=1e-3)


def test_heads_trained_together_must_share_the_schedules_shape():
    configs = [TrainConfig(lr_min=1e-3, lr_max=1e-2), TrainConfig(lr_min=1e-3, lr_max=2e-2)]
    with pytest.raises(ConfigError, match="must share lr_min / lr_max"):
        fit_stacked(np.zeros((4, 2)), np.array([0, 1, 0, 1]), 2, configs)


def test_fused_optimiser_step_matches_the_for_each_step():
    """torch's fused AdamW (the default) is the same update as the for-each one, up to rounding."""
    x, labels = blobs(n_classes=5, per_class=24, dim=12)
    y = np.array([int(lab[1:]) for lab in labels])
    xt = torch.as_tensor(x)
    for method in ("control", "e_stitchup", "soft_e_mixup"):
        fused, fh = fit(x, y, 5, TrainConfig(method=method, epochs=3, batch_size=16, fused=True))
        plain, ph = fit(x, y, 5, TrainConfig(method=method, epochs=3, batch_size=16, fused=False))
        np.testing.assert_allclose(fused.predict_proba(xt).numpy(), plain.predict_proba(xt).numpy(), atol=1e-4)
        assert fh[-1].train_loss == pytest.approx(ph[-1].train_loss, rel=1e-4)


def test_epoch_plan_pairs_every_row_with_another_row_of_its_own_batch():
    from embaug_core.training.augment import get_method
    from embaug_core.training.draws import EpochPlan
    from embaug_core.training.engine import _batches

    for n, batch in [(10, 4), (9, 4), (65, 64), (64, 64), (3, 64), (130, 32)]:
        bounds = _batches(n, batch)
        g = torch.Generator().manual_seed(n)
        plan = EpochPlan.draw(n, bounds, get_method("e_mixup"), TrainConfig(alpha=0.5), g, "cpu")
        assert sorted(plan.order.tolist()) == list(range(n))
        assert plan.lam.shape == (n,) and ((plan.lam >= 0) & (plan.lam <= 1)).all()
        for lo, hi in bounds:
            local = plan.partner[lo:hi]
            assert sorted(local.tolist()) == list(range(hi - lo))  # a permutation of the batch ...
            assert (local != torch.arange(hi - lo)).all()  # ... that moves every row (a derangement)
        none = EpochPlan.draw(n, bounds, get_method("control"), TrainConfig(), g, "cpu")
        assert none.partner is None and none.lam is None


def test_monitor_keeps_the_epoch_with_the_lowest_held_out_loss_and_stops_early():
    x, labels = blobs(n_classes=4, per_class=30, dim=8, spread=1.5)
    y = np.array([int(lab[1:]) for lab in labels])
    train, held = np.arange(len(y)) % 4 != 0, np.arange(len(y)) % 4 == 0
    config = TrainConfig(epochs=60, batch_size=16, patience=5, lr_min=3e-3, lr_max=3e-2)
    head, history = fit(x[train], y[train], 4, config, monitor=(x[held], y[held]))
    nll = [r.monitor_nll for r in history]
    assert len(history) < 60  # stopped early ...
    assert len(history) - 1 - int(np.argmin(nll)) == 5  # ... 5 epochs after the best one
    logits = head(torch.as_tensor(x[held]))
    target = torch.nn.functional.one_hot(torch.as_tensor(y[held]), 4).float()
    restored = torch.nn.functional.binary_cross_entropy_with_logits(logits, target).item()
    assert restored == pytest.approx(min(nll), rel=1e-5)  # the head is the best epoch's


@pytest.mark.parametrize("schedule", ["one_cycle", "linear_decay"])
def test_budget_schedules_start_peak_and_end_where_documented(schedule):
    x, labels = blobs(n_classes=3, per_class=20, dim=4)
    y = np.array([int(lab[1:]) for lab in labels])
    config = TrainConfig(epochs=10, batch_size=6, lr_schedule=schedule, lr_min=1e-4, lr_max=1e-2)
    _, history = fit(x, y, 3, config)
    lrs = [r.lr for r in history]  # after each epoch
    if schedule == "linear_decay":
        assert lrs == pytest.approx([1e-2 * (1 - e / 10) for e in range(1, 11)], abs=1e-9)
    else:
        assert max(lrs) == pytest.approx(1e-2, rel=0.05) and lrs[-1] < 2e-4
        assert int(np.argmax(lrs)) == 2  # the peak is at 30 % of the steps


def test_training_flushes_subnormals_and_restores_the_setting(monkeypatch):
    from embaug_core.training import engine

    tiny = torch.tensor([1e-39], dtype=torch.float32)  # subnormal in float32
    seen, original = [], engine._train_loop

    def spy(*args, **kwargs):
        seen.append(float(tiny * 1.0))  # 0.0 while subnormals are flushed
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "_train_loop", spy)
    x, y = blobs(n_classes=3, per_class=10, dim=4)
    fit(x, np.unique(y, return_inverse=True)[1], 3, TrainConfig(epochs=1))
    assert seen == [0.0]
    assert float(tiny * 1.0) > 0.0  # the caller's setting is back


def test_a_head_given_its_own_rows_trains_as_it_would_alone_on_those_rows():
    # two heads on different halves of the rows, trained together (the cross-fitted ensemble's fold models),
    # against each trained alone on its half: the same draws, so the same heads up to summation order
    x, labels = blobs(n_classes=4, per_class=30, dim=12)
    y = np.array([int(lab[1:]) for lab in labels])
    halves = [np.arange(0, 120, 2), np.arange(1, 120, 2)]
    configs = [TrainConfig(method="e_stitchup", epochs=3, batch_size=16, seed=s) for s in (0, 1)]
    together, _ = fit_stacked(x, y, 4, configs, head_rows=halves)
    xt = torch.as_tensor(x)
    for config, head, rows in zip(configs, together, halves, strict=True):
        alone, _ = fit(x[rows], y[rows], 4, config)
        np.testing.assert_allclose(head.predict_proba(xt).numpy(), alone.predict_proba(xt).numpy(), atol=1e-5)
    # the user's none examples (outlier exposure) join every head's rows: still each head as it is alone
    out = x[:10] + 5.0
    together, _ = fit_stacked(x, y, 4, configs, head_rows=halves, outliers=out)
    for config, head, rows in zip(configs, together, halves, strict=True):
        alone, _ = fit(x[rows], y[rows], 4, config, outliers=out)
        np.testing.assert_allclose(head.predict_proba(xt).numpy(), alone.predict_proba(xt).numpy(), atol=1e-5)


def test_heads_with_more_rows_than_the_smallest_leave_a_few_out_each_epoch_and_bad_rows_are_refused():
    x, labels = blobs(n_classes=4, per_class=30, dim=12)
    y = np.array([int(lab[1:]) for lab in labels])
    configs = [TrainConfig(method="e_stitchup", epochs=3, batch_size=16, seed=s) for s in (0, 1)]
    big, histories = fit_stacked(x, y, 4, configs, head_rows=[np.arange(61), np.arange(60, 120)])
    # an epoch is 60 positions for both (4 batches of 16, the last of 12): the 61-row head is not its alone self
    alone, _ = fit(x[:61], y[:61], 4, configs[0])
    assert len(histories[0]) == 3 and all(np.isfinite(r.train_loss) for r in histories[0])
    xt = torch.as_tensor(x)
    assert not np.allclose(big[0].predict_proba(xt).numpy(), alone.predict_proba(xt).numpy(), atol=1e-5)
    for bad in ([np.arange(60)], [np.arange(60), np.arange(100, 121)], [y < 2, y >= 2], [np.arange(60), [3]]):
        with pytest.raises(ConfigError, match="head_rows"):
            fit_stacked(x, y, 4, configs, head_rows=bad)
