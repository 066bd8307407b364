"""Every model a :class:`~embaug_core.training.trained_head.TrainedHead` can hold, as one kind of module:
embeddings (B, D) in, one sigmoid logit per class (B, C) out.

* :class:`~embaug_core.training.heads.MLPHead` — the paper's head (``TrainConfig.model = "mlp"``);
* :class:`EnsembleHead` — K MLP heads of one method with seeds ``seed .. seed + K - 1`` whose sigmoid
  outputs are averaged (``ensemble = K``), trained together by
  :func:`~embaug_core.training.engine.fit_stacked`, on all rows or, cross-fitted (:func:`cross_fit`), each
  on all folds but its own;
* :class:`SoftmaxHead` — multinomial logistic regression, the peer, as a head (``model = "logreg"``):
  scikit-learn fits it, its standardisation is folded into the weights, and its softmax probability p
  of each class is given as the sigmoid logit log p - log(1 - p), so ``sigmoid(logits)`` is p;
* a blend (``blend_C > 0``) — an :class:`EnsembleHead` of two members, the MLP head (or ensemble) and a
  :class:`SoftmaxHead` at C = ``blend_C`` trained on the same rows: their probabilities averaged half and half.

Because all three give sigmoid logits, every path that uses a head (none scores, thresholds, runs,
``predict``, the scikit-learn estimator, the auto method's ranking by validation NLL) uses them alike.
:func:`train_model` trains the one a :class:`~embaug_core.training.config.TrainConfig` describes,
:func:`build_model` makes its empty shape for loading saved weights (no pickle), and :func:`scale_model`
divides its logits by a temperature.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .config import TrainConfig
from .engine import EpochRecord
from .heads import MLPHead

__all__ = [
    "EnsembleHead",
    "SoftmaxHead",
    "build_model",
    "train_model",
    "blend",
    "cross_fit",
    "cross_fit_note",
    "folds",
    "scale_model",
    "member_configs",
    "logits_of",
]


class _Tempered(nn.Module):
    """A module whose logits are divided by a saved ``temperature`` buffer (1 until scaled)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("temperature", torch.ones(()))


class EnsembleHead(_Tempered):
    """K members whose sigmoid outputs are averaged: logits ``logit(mean_k sigmoid(z_k)) / T``. The members
    are MLP heads of one method (a deep ensemble), or, in a blend, a head or ensemble and a :class:`SoftmaxHead`.

    The logit of the mean is computed in log space (``logsumexp`` of the members' log-sigmoids), so
    confident members never give an infinite logit.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.stack([m(x) for m in self.members])  # (K, B, C)
        log_k = math.log(len(self.members))
        log_p = torch.logsumexp(nn.functional.logsigmoid(z), dim=0) - log_k
        log_q = torch.logsumexp(nn.functional.logsigmoid(-z), dim=0) - log_k
        return (log_p - log_q) / self.temperature


class SoftmaxHead(_Tempered):
    """Multinomial logistic regression as a head: softmax probabilities p (B, C) given as sigmoid logits
    ``(log p - log(1 - p)) / T``. Classes absent from its training rows have probability 0."""

    def __init__(self, input_dim: int, n_classes: int):
        super().__init__()
        self.linear = nn.Linear(input_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(self.linear(x), dim=1)
        # log(1 - p) from log p: log(-expm1(log p)), clamped so that p == 1 stays finite
        log_q = torch.log(torch.clamp(-torch.expm1(log_p), min=torch.finfo(log_p.dtype).tiny))
        return (log_p - log_q) / self.temperature

    @classmethod
    @torch.no_grad()
    def fit(cls, x, y, n_classes: int, C: float) -> SoftmaxHead:
        """scikit-learn's multinomial logistic regression (lbfgs) on standardised x (n, D), class indices
        y (n,), with its scaler folded into the weights: ``((x - mu) / sigma) W + b = x (W / sigma) + b'``. It fits
        in float64 whatever the rows' type."""
        from .logreg import LogisticRegressionBaseline

        peer = LogisticRegressionBaseline(C=C).fit(np.asarray(x, dtype=np.float64), np.asarray(y), n_classes)
        coef, bias = peer.model.coef_, peer.model.intercept_
        if coef.shape[0] == 1:  # two classes: scikit-learn keeps one column, log-odds of the second
            coef, bias = np.vstack([-coef / 2, coef / 2]), np.array([-bias[0] / 2, bias[0] / 2])
        scale = peer.scaler.scale_
        weight = np.zeros((n_classes, coef.shape[1]))
        out = np.full(n_classes, -1e4)  # classes it never saw: softmax probability 0
        weight[peer.model.classes_] = coef / scale
        out[peer.model.classes_] = bias - (coef / scale) @ peer.scaler.mean_
        head = cls(coef.shape[1], n_classes)
        head.linear.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        head.linear.bias.copy_(torch.as_tensor(out, dtype=torch.float32))
        return head.eval()


def blend(head: nn.Module, peer: SoftmaxHead) -> EnsembleHead:
    """A blend of a head (an MLP head or ensemble) and logistic regression: their sigmoid outputs averaged half
    and half, on the head's device. Each keeps the temperature it has; the blend's own divides the average."""
    device = next(head.parameters()).device
    return EnsembleHead([head, peer.to(device)]).eval()


def member_configs(config: TrainConfig) -> list[TrainConfig]:
    """The single-head configs of an ensemble's members: seeds ``seed .. seed + ensemble - 1``."""
    return [config.with_(ensemble=1, seed=config.seed + i) for i in range(config.ensemble)]


def folds(y, k: int, seed: int) -> np.ndarray:
    """Each row's fold (n,) in ``0 .. k - 1``, stratified by class: the rows, in a random order (a
    ``torch.Generator`` seeded with ``seed``), sorted by class and dealt to the folds in turn, so that every
    class spreads over the folds and their sizes differ by at most one. Written here rather than taken
    from scikit-learn's ``StratifiedKFold``, which refuses when no class has ``k`` rows and warns when one
    has fewer."""
    y = np.asarray(y)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed)).numpy()
    order = perm[np.argsort(y[perm], kind="stable")]
    out = np.empty(len(y), dtype=np.int64)
    out[order] = np.arange(len(y)) % k
    return out


def cross_fit(
    x,
    y,
    n_classes: int,
    config: TrainConfig,
    *,
    kind: str = "sigmoid",
    validation: tuple | None = None,
    progress: Callable[[EpochRecord], None] | None = None,
    outliers=None,
) -> tuple[EnsembleHead, list, float]:
    """A cross-fitted ensemble: (model, its first member's history, T).

    The rows are split into ``config.ensemble`` folds (:func:`folds`); member k (seed ``seed + k``) trains on
    every fold but the k-th, all members together (:func:`~embaug_core.training.engine.fit_stacked`'s
    ``head_rows``). Every row is then predicted by the one member that never trained on it, a temperature T
    is fitted on those out-of-fold logits (``kind``, as
    :func:`~embaug_core.evaluation.temperature.fit_temperature`), and every member's logits are divided by
    it before their sigmoid outputs are averaged. So T is fitted on held-out predictions of the models it
    scales, the members, not moved from a validation model to another (issue 23); the average of K members
    is less confident than any one of them, and T is not refitted for it.

    What the fit leaves out: the out-of-fold rows are all of known classes, so there is no "none" row in it
    (the validation split's T weighs them ``AutoRecipe.none_share``); and a class with a single row, whose
    out-of-fold predictor never saw that class. ``outliers``: rows every member trains on with an all-zero
    target (outlier exposure), in no fold."""
    from ..errors import ConfigError
    from ..evaluation.temperature import fit_temperature
    from .engine import fit_stacked

    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    k = config.ensemble
    if config.model != "mlp" or k < 2 or len(y) < 2 * k:
        raise ConfigError(
            f"a cross-fitted ensemble needs MLP heads, an ensemble of at least 2 and 2 rows a member; "
            f"got model {config.model!r}, ensemble {k}, {len(y)} rows."
        )
    fold = folds(y, k, config.seed)
    heads, histories = fit_stacked(
        x,
        y,
        n_classes,
        member_configs(config),
        validation=validation,
        on_epoch=None if progress is None else (lambda records: progress(records[0])),
        outliers=outliers,
        scored_heads=1,
        head_rows=[np.flatnonzero(fold != j) for j in range(k)],
    )
    out_of_fold = np.empty((len(y), n_classes))
    for j, head in enumerate(heads):
        out_of_fold[fold == j] = logits_of(head, x[fold == j])
    seen = np.bincount(y, minlength=n_classes)[y] > 1  # a single row's out-of-fold member never saw its class
    t = fit_temperature(out_of_fold[seen], y[seen], kind=kind) if seen.any() else 1.0
    for head in heads:
        scale_model(head, t)
    return EnsembleHead(heads).eval(), histories[0], t


def cross_fit_note(k: int) -> str:
    """Where a cross-fitted ensemble of ``k`` members has its temperature from, in words (for its records)."""
    return f"out-of-fold rows of its {k} fold members (cross-fitted)"


def build_model(input_dim: int, n_classes: int, config: TrainConfig) -> nn.Module:
    """The untrained module ``config`` describes (what :meth:`TrainedHead.load` fills with saved weights)."""
    if config.blend_C > 0:
        return EnsembleHead(
            [build_model(input_dim, n_classes, config.with_(blend_C=0.0)), SoftmaxHead(input_dim, n_classes)]
        )
    if config.model == "logreg":
        return SoftmaxHead(input_dim, n_classes)
    if config.ensemble > 1:
        return EnsembleHead([MLPHead(input_dim, n_classes, config.head_config) for _ in range(config.ensemble)])
    return MLPHead(input_dim, n_classes, config.head_config)


def train_model(
    x,
    y,
    n_classes: int,
    config: TrainConfig,
    *,
    validation: tuple | None = None,
    monitor: tuple | None = None,
    progress: Callable[[EpochRecord], None] | None = None,
    outliers=None,
) -> tuple[nn.Module, list]:
    """Train the model ``config`` describes on rows x (n, D), class indices y (n,); (model in eval mode,
    history). An ensemble's members train together (as :func:`~embaug_core.training.engine.fit_stacked`) and
    its history is its first member's; logistic regression has no epochs and an empty history.
    ``progress(record)`` after every epoch, with the first member's record. ``outliers`` (b, D): out-of-scope
    rows the MLP heads train on with an all-zero target (outlier exposure; logistic regression has no such
    target and ignores them). A blend (``blend_C > 0``) trains its head or ensemble so and its logistic regression
    on the same rows."""
    from .engine import fit_stacked

    if config.blend_C > 0:
        part, history = train_model(
            x,
            y,
            n_classes,
            config.with_(blend_C=0.0),
            validation=validation,
            monitor=monitor,
            progress=progress,
            outliers=outliers,
        )
        peer = SoftmaxHead.fit(x, y, n_classes, config.blend_C)
        return blend(part, peer), history
    if config.model == "logreg":
        return SoftmaxHead.fit(x, y, n_classes, config.C), []
    each = None if progress is None else (lambda records: progress(records[0]))
    heads, histories = fit_stacked(
        x,
        y,
        n_classes,
        member_configs(config),
        validation=validation,
        monitor=monitor,
        on_epoch=each,
        outliers=outliers,
        scored_heads=1,  # the history is the first member's: the others' validation pass would be thrown away
    )
    return (heads[0] if len(heads) == 1 else EnsembleHead(heads).eval()), histories[0]


@torch.no_grad()
def logits_of(model: nn.Module, x) -> np.ndarray:
    """The model's logits (n, C) for rows x (n, D), float64 on the CPU (computed on the model's device)."""
    device = next(model.parameters()).device
    return model.eval()(torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)).double().cpu().numpy()


@torch.no_grad()
def scale_model(model: nn.Module, temperature: float) -> nn.Module:
    """Divide the model's logits by ``temperature``, in place: an MLP head's last layer, else the module's
    temperature buffer."""
    if temperature == 1.0:
        return model
    if isinstance(model, MLPHead):
        last = model.layers[-1]
        last.weight.div_(temperature)
        last.bias.div_(temperature)
    else:
        model.temperature.mul_(temperature)
    return model
