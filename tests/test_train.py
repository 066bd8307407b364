import json

import numpy as np
import pytest
import torch
from conftest import blobs

from embaug_core.errors import ConfigError, ModelFileError
from embaug_core.training.augment import METHOD_NAMES
from embaug_core.training.config import PRESETS, TrainConfig
from embaug_core.training.engine import fit
from embaug_core.training.heads import HeadConfig, MLPHead
from embaug_core.training.trained_head import TrainedHead


def test_head_matches_the_paper():
    head = MLPHead(384, 150, HeadConfig(), generator=torch.Generator().manual_seed(0))
    shapes = [tuple(layer.weight.shape) for layer in head.layers]
    assert shapes == [(250, 384), (250, 250), (150, 250)]
    assert head.config.dropout == 0.3
    head.eval()
    x = torch.randn(4, 384)
    # eval mode: no dropout, deterministic; the output is sigmoid-able logits
    assert torch.equal(head(x), head(x))
    p = head.predict_proba(x)
    assert p.shape == (4, 150) and bool(((p > 0) & (p < 1)).all())


def test_dropout_draws_from_the_given_generator_only():
    head = MLPHead(8, 3, HeadConfig(dropout=0.5), generator=torch.Generator().manual_seed(0)).train()
    x = torch.randn(16, 8)
    with pytest.raises(RuntimeError, match="generator"):
        head(x)
    a = head(x, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(99)
    b = head(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert not torch.equal(a, head(x, generator=torch.Generator().manual_seed(2)))


def test_presets_and_defaults_follow_the_paper():
    c = TrainConfig()
    assert (c.epochs, c.lr_min, c.lr_max, c.lr_cycle_epochs, c.weight_decay) == (576, 3e-4, 3e-3, 12, 1e-4)
    assert (c.hidden, c.dropout) == ((250, 250), 0.3)
    assert TrainConfig.preset("fast").epochs == PRESETS["fast"] == 48


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"method": "mixup"}, "unknown method"),
        ({"alpha": 0}, "alpha"),
        ({"softness": 1.5}, "softness"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 1}, "batch_size"),
        ({"lr_min": 1e-2, "lr_max": 1e-3}, "lr_min"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"dropout": 1.0}, "dropout"),
        ({"device": "tpu"}, "device"),
        ({"seed": -1}, "seed"),
    ],
)
def test_config_validates_itself(kw, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kw)


def test_learning_rate_cycles_linearly_every_12_epochs():
    x, labels = blobs(per_class=16)  # 96 rows, batch 32 -> 3 steps per epoch
    seen = []
    TrainedHead.train(x, labels, TrainConfig(epochs=24, batch_size=32), progress=lambda r: seen.append(r.lr))
    # half a cycle (6 epochs) up to the maximum, back down to the minimum at 12, again at 24
    assert seen[5] == pytest.approx(3e-3)
    assert seen[11] == pytest.approx(3e-4)
    assert seen[17] == pytest.approx(3e-3)
    assert seen[23] == pytest.approx(3e-4)
    assert seen[2] == pytest.approx(3e-4 + (3e-3 - 3e-4) * 3 / 6)  # linear in between


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_every_method_learns_separable_data(method):
    x, labels = blobs(n_classes=5, per_class=30, dim=12, seed=1)
    xt, lt = blobs(n_classes=5, per_class=30, dim=12, seed=1)
    head = TrainedHead.train(x, labels, TrainConfig(method=method, epochs=24))
    acc = (np.array(head.class_names)[head.predict_proba(xt).argmax(1)] == lt).mean()
    assert acc > 0.95
    assert head.history[-1].train_loss < head.history[0].train_loss


def test_same_seed_identical_head_different_seed_different_head():
    x, labels = blobs(per_class=10)
    cfg = TrainConfig(method="soft_e_stitchup", epochs=3)
    a = TrainedHead.train(x, labels, cfg)
    torch.manual_seed(1234)  # global RNG state must not matter
    b = TrainedHead.train(x, labels, cfg)
    c = TrainedHead.train(x, labels, cfg.with_(seed=1))
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert not all(
        torch.equal(va, vc) for va, vc in zip(a.model.state_dict().values(), c.model.state_dict().values(), strict=True)
    )


def test_validation_history_counts_unseen_classes_as_none():
    x, labels = blobs(n_classes=6, per_class=30)
    known = np.isin(labels, ["c0", "c1", "c2", "c3"])
    head = TrainedHead.train(
        x[known], labels[known], TrainConfig(method="e_stitchup", epochs=12), validation=(x[~known], labels[~known])
    )
    last = head.history[-1]
    assert np.isnan(last.val_id_accuracy)  # only unseen classes in this validation set
    assert last.val_overall_accuracy == pytest.approx(last.val_none_accuracy)
    assert len(head.history) == 12 and head.history[-1].epoch == 12


def test_save_and_load_round_trip(tmp_path):
    x, labels = blobs(per_class=10)
    head = TrainedHead.train(x, labels, TrainConfig(method="e_mixup", alpha=0.3, epochs=2), metadata={"note": "t"})
    head.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "head.json").read_text())
    assert meta["method"] == "e_mixup" and meta["input_dim"] == 16 and meta["class_names"] == list(head.class_names)
    assert meta["hyperparameters"]["alpha"] == 0.3 and meta["config"]["epochs"] == 2
    back = TrainedHead.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict_proba(x), head.predict_proba(x))
    assert back.fingerprint == head.fingerprint
    assert back.config == head.config.with_(device="cpu")
    assert len(back.history) == 2 and back.metadata == {"note": "t"}


def test_load_refuses_broken_or_foreign_files(tmp_path):
    x, labels = blobs(per_class=10)
    TrainedHead.train(x, labels, TrainConfig(epochs=1)).save(tmp_path / "m")
    with pytest.raises(ModelFileError, match="no such model folder"):
        TrainedHead.load(tmp_path / "missing")
    weights = tmp_path / "m" / "head.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum differs"):
        TrainedHead.load(tmp_path / "m")
    # a pickle posing as the weights file is never unpickled
    import pickle

    weights.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    meta = json.loads((tmp_path / "m" / "head.json").read_text())
    meta.pop("weights_sha256")
    (tmp_path / "m" / "head.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="not a readable safetensors file"):
        TrainedHead.load(tmp_path / "m")
    (tmp_path / "m" / "head.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        TrainedHead.load(tmp_path / "m")


def test_predict_checks_the_dimension():
    x, labels = blobs(per_class=10)
    head = TrainedHead.train(x, labels, TrainConfig(epochs=1))
    with pytest.raises(ConfigError, match="dimension 16"):
        head.predict_proba(np.zeros((2, 8)))


def test_fit_rejects_bad_labels():
    with pytest.raises(ConfigError, match="class indices"):
        fit(np.zeros((4, 3)), np.array([0, 1, 2, 5]), 3, TrainConfig(epochs=1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_is_deterministic():
    x, labels = blobs(per_class=10)
    cfg = TrainConfig(method="e_stitchup", epochs=3, device="cuda")
    a, b = TrainedHead.train(x, labels, cfg), TrainedHead.train(x, labels, cfg)
    assert next(a.model.parameters()).device.type == "cuda"
    np.testing.assert_allclose(a.predict_proba(x), b.predict_proba(x), atol=1e-6)


def test_one_preset_resolver_for_every_surface():
    """TrainConfig.preset is where a preset's name becomes settings (CLI, Experiment page, library)."""
    from embaug_core.training.config import PresetError

    assert TrainConfig.preset() == TrainConfig.preset("auto") and TrainConfig.preset().recipe == "auto"
    assert TrainConfig.preset(epochs=10) == TrainConfig(epochs=10)  # --epochs alone: the paper's schedule
    assert TrainConfig.preset(batch_size=128).epochs == PRESETS["paper"]
    assert TrainConfig.preset("custom", epochs=7, seed=3) == TrainConfig(epochs=7, seed=3)
    assert TrainConfig.preset("fast", batch_size=32) == TrainConfig(epochs=48, batch_size=32)
    with pytest.raises(PresetError, match="epochs and batch_size") as err:
        TrainConfig.preset("auto", epochs=5, batch_size=8)
    assert err.value.settings == ("epochs", "batch_size")
    with pytest.raises(ConfigError, match="needs a number of epochs"):
        TrainConfig.preset("custom")
    with pytest.raises(ConfigError, match="unknown preset 'slow'"):
        TrainConfig.preset("slow")
