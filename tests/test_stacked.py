"""Heads trained together (fit_stacked) are the heads trained one by one, up to summation order."""

import numpy as np
import pytest
import torch
from conftest import blobs

from embaug_core.augment import METHOD_NAMES
from embaug_core.errors import ConfigError
from embaug_core.train import TrainConfig, fit, fit_stacked


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


def test_stacked_heads_must_share_the_schedule():
    with pytest.raises(ConfigError, match="must share 'epochs'"):
        fit_stacked(np.zeros((4, 2)), np.array([0, 1, 0, 1]), 2, [TrainConfig(epochs=2), TrainConfig(epochs=3)])
