"""The head you keep: :class:`TrainedHead` (train, predict, none scores, save / load).

It is trained with a :class:`~embaug_core.training.config.TrainConfig` (see that module for the
choices made where the paper is silent) by :mod:`embaug_core.training.engine`, or by the auto recipe
(:mod:`embaug_core.training.recipe`). Import it with ``from embaug_core import TrainedHead``.

Determinism: weights, shuffling, partners, lambdas, stitch masks and dropout all draw
from one ``torch.Generator`` per head seeded with ``seed`` on the training device; the
same seed, data, device and thread count give bit-identical heads.

Probabilities are float64 on every path (:func:`~embaug_core.evaluation.metrics.sigmoid` of the
float32 logits), so the library, the CLI, the dashboard and experiments give the same
thresholds for the same head.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..evaluation.metrics import NONE, sigmoid
from .config import TrainConfig
from .engine import EpochRecord
from .head_files import MODEL_SCHEMA
from .models import logits_of, train_model

__all__ = ["TrainedHead", "MODEL_SCHEMA"]


@dataclass(eq=False)
class TrainedHead:
    """A trained head with everything needed to use it again.

    Attributes
    ----------
    model : torch.nn.Module, one of :mod:`embaug_core.training.models` (embeddings in, sigmoid logits out)
    class_names : tuple of str, in output order
    config : TrainConfig
    input_dim : int
    history : list of EpochRecord
    metadata : dict, free-form (data source, split, ...), saved with the head
    scores : ScoreBank or None, what the "none" scores other than max-probability need
        (fitted on the training rows by :meth:`train`; saved as ``scores.safetensors``)
    """

    model: torch.nn.Module
    class_names: tuple[str, ...]
    config: TrainConfig
    input_dim: int
    history: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    scores: object = None  # ScoreBank

    @classmethod
    def train(
        cls,
        embeddings,
        labels: Sequence[str],
        config: TrainConfig,
        *,
        class_names: Sequence[str] | None = None,
        validation: tuple | None = None,
        progress: Callable[[EpochRecord], None] | None = None,
        metadata: dict | None = None,
        none_examples=None,
        score_config=None,
    ) -> TrainedHead:
        """Train on embeddings (n, D) with string labels (n,), then fit the "none" scores.

        ``class_names`` fixes the output order (default: sorted distinct labels);
        ``validation`` is (embeddings (m, D), labels (m,)), where labels outside
        ``class_names`` count as "none". ``none_examples`` (b, D) are rows known to be out of
        scope; with ``validation`` they choose kNN's k and the fused score's weight (see
        :mod:`embaug_core.evaluation.scores`); with ``config.outlier_exposure`` the head also trains on them
        with an all-zero target. ``score_config`` is a
        :class:`~embaug_core.evaluation.scores.ScoreConfig`.
        """
        from ..evaluation.metrics import encode_labels

        names, y = _training_labels(labels, class_names)
        val = None if validation is None else (validation[0], encode_labels(list(validation[1]), names))
        metadata, held_out, outliers = dict(metadata or {}), None, _exposed(config, none_examples)
        if config.recipe == "auto":
            from .selection import select_and_train

            auto = select_and_train(
                embeddings, y, names, [config], progress=_stage_progress(progress), outliers=outliers
            )
            model, history, config, held_out = auto.head, auto.history, auto.config, auto.held_out
            metadata["training"] = auto.info
        else:
            model, history = train_model(
                embeddings, y, len(names), config, validation=val, progress=progress, outliers=outliers
            )
        head = cls(
            model=model,
            class_names=names,
            config=config,
            input_dim=int(np.asarray(embeddings).shape[1]),
            history=history,
            metadata=metadata,
        )
        scoring = None if outliers is not None else none_examples  # rows it trained on do not tune the scores
        head._fit_scores_held_out(embeddings, y, held_out, validation=val, none_examples=scoring, config=score_config)
        return head

    @classmethod
    def train_best(
        cls,
        embeddings,
        labels: Sequence[str],
        config: TrainConfig,
        *,
        methods: Sequence[str] | None = None,
        alphas: Sequence[float] = (0.2, 0.4, 1.0),
        softnesses: Sequence[float] = (0.05, 0.1, 0.2),
        class_names: Sequence[str] | None = None,
        progress: Callable[[str, int, int], None] | None = None,
        metadata: dict | None = None,
        none_examples=None,
        score_config=None,
        recipe=None,
    ) -> TrainedHead:
        """The "auto" method: every method (default :data:`~embaug_core.training.augment.AUTO_METHODS`) with its
        alpha / softness grid trains together on a validation split of these rows with ``config``'s schedule
        (each head stops at its best validation epoch, :mod:`embaug_core.training.recipe`); beside them a deep
        ensemble of the best one's settings and logistic regression
        (:func:`~embaug_core.training.selection.peers_on_split`). The one with the lowest validation NLL after
        its temperature (then AUROC) is retrained on all rows; ``metadata["training"]`` says why it won and
        lists the runners-up.
        ``progress(stage, epoch, epochs)`` with stage "validation split" or "final". ``recipe``: an
        :class:`~embaug_core.training.recipe.AutoRecipe` (default ``DEFAULT_RECIPE``)."""
        from .augment import AUTO_METHODS
        from .config import SearchGrid
        from .selection import select_and_train

        names, y = _training_labels(labels, class_names)
        grid = SearchGrid(tuple(methods or AUTO_METHODS), alphas, softnesses)  # an experiment's "auto" tries the same
        configs = [config.with_(method=m, alpha=float(a), softness=float(sf)) for m, a, sf in grid.candidates(config)]
        outliers = _exposed(config, none_examples)
        auto = select_and_train(
            embeddings, y, names, configs, recipe=recipe, progress=progress, peers=True, outliers=outliers
        )
        head = cls(
            model=auto.head,
            class_names=names,
            config=auto.config,
            input_dim=int(np.asarray(embeddings).shape[1]),
            history=auto.history,
            metadata={**(metadata or {}), "training": auto.info},
        )
        scoring = None if outliers is not None else none_examples  # rows it trained on do not tune the scores
        head._fit_scores_held_out(embeddings, y, auto.held_out, none_examples=scoring, config=score_config)
        return head

    def _fit_scores_held_out(self, embeddings, y, held_out, *, validation=None, none_examples=None, config=None):
        """:meth:`fit_scores`, on the validation split the auto recipe chose this head on when there is one
        and no rows were given: the rows its validation head never saw set k, the fused weight and the
        percentile scale (as in an experiment)."""
        if held_out is None or validation is not None:
            return self.fit_scores(embeddings, y, validation=validation, none_examples=none_examples, config=config)
        self.fit_scores(embeddings, y, check=_held_out_validation(held_out, embeddings, none_examples), config=config)

    def fit_scores(self, embeddings, y, *, validation=None, none_examples=None, config=None, check=None) -> None:
        """Fit :attr:`scores` on the training rows (embeddings (n, D), class indices y (n,)).

        ``validation`` (embeddings (m, D), class indices (m,) with NONE for "none") are rows this
        head did not train on: its known rows, and its "none" rows or else ``none_examples``,
        choose k and the fused weight. ``none_examples`` without ``validation`` use the training
        rows as the known side (leave-one-out kNN; this head's max-prob on rows it trained on is
        over-confident, so prefer ``embaug evaluate --none-examples`` on held-out rows).
        ``check`` is a ready :class:`~embaug_core.evaluation.scores.ScoreValidation` (the experiment's, made
        with its validation head); it replaces ``validation`` and ``none_examples``.
        """
        from ..evaluation.detection import energy_none_score
        from ..evaluation.score_validation import ScoreValidation
        from ..evaluation.scores import ScoreBank, ScoreConfig

        x = np.asarray(embeddings, dtype=np.float32)
        config = config or ScoreConfig()
        if check is None and (validation is not None or none_examples is not None):
            if validation is not None:
                vx, vy = np.asarray(validation[0], dtype=np.float32), np.asarray(validation[1])
                known_x, none_x = vx[vy != NONE], vx[vy == NONE]
            else:
                known_x, none_x = x, np.empty((0, x.shape[1]), dtype=np.float32)
            if len(known_x):  # held out: they make the percentile scale; with "none" rows they choose k and w
                energy = {"energy": energy_none_score(self.predict_logits(known_x))} if validation is not None else {}
                mp = [1.0 - self.predict_proba(r).max(1) for r in (known_x, none_x)]
                check = ScoreValidation(
                    x, known_x, mp[0], none_x, mp[1], known_scores=energy, held_out=validation is not None
                )
                if none_examples is not None:  # the removed classes' rows stay, to constrain the fused weight
                    ex = np.asarray(none_examples, dtype=np.float32)
                    check = check.with_none_examples(ex, self.predict_logits(ex))
        self.scores = ScoreBank.fit(x, y, self.predict_logits(x), config=config, validation=check)

    def score_bank(self):
        """:attr:`scores`, or a clear error for a head saved without them."""
        if self.scores is None:
            raise ConfigError(
                "this head was saved without its score bank (an older embaug); only the max_prob score "
                "works with it. Retrain it to use energy, knn, mahalanobis or fused."
            )
        return self.scores

    def confidence(self, embeddings, score: str = "max_prob", *, logits=None) -> np.ndarray:
        """Confidence (n,) of rows (n, D) under ``score`` (see :mod:`embaug_core.evaluation.scores`):
        the top probability for max_prob, else a percentile; accepted when >= the threshold."""
        from ..evaluation.scores import ScoreBank, check_score_name

        check_score_name(score)
        z = self.predict_logits(embeddings) if logits is None else logits
        if score == "max_prob":
            return sigmoid(z).max(1)
        bank: ScoreBank = self.score_bank()
        return bank.confidence(score, embeddings, z)

    @property
    def method(self) -> str:
        """What trained it: the augmentation method, "logreg", or "<method> xK" for an ensemble."""
        return self.config.candidate

    def predict_proba(self, embeddings) -> np.ndarray:
        """Sigmoid outputs (n, C) as float64 numpy, the dtype every embaug path uses."""
        return sigmoid(self.predict_logits(embeddings))

    def predict_logits(self, embeddings, *, batch_size: int = 8192) -> np.ndarray:
        """Logits (n, C) as float32 numpy (sigmoid of these is :meth:`predict_proba`)."""
        x = np.asarray(embeddings, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ConfigError(
                f"this head expects embeddings of dimension {self.input_dim}; got shape {x.shape}. "
                "Use embeddings made with the same model as the training data."
            )
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.no_grad():
            xt = torch.as_tensor(x, device=device)
            parts = [self.model(xt[i : i + batch_size]).float().cpu() for i in range(0, xt.shape[0], batch_size)]
        if not parts:
            return np.empty((0, len(self.class_names)), dtype=np.float32)
        return torch.cat(parts).numpy()

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> Path:
        """Write ``head.safetensors`` and ``head.json`` (and the score bank) into ``directory``, each
        file renamed into place, so an interrupted save never leaves a half-written head
        (:func:`~embaug_core.training.head_files.write_head`)."""
        from .head_files import write_head

        return write_head(self, directory)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the weights (identifies the model in threshold files).

        Computed once and kept: a TrainedHead's weights do not change after training, and
        the dashboard asks for the fingerprint on every rerun of the Threshold page.
        """
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            h = hashlib.sha256()
            for k, v in sorted(self.model.state_dict().items()):
                h.update(k.encode())
                h.update(v.detach().cpu().contiguous().numpy().tobytes())
            cached = self.__dict__["_fingerprint"] = "sha256:" + h.hexdigest()
        return cached

    @classmethod
    def load(cls, directory: str | Path, *, device: str = "cpu") -> TrainedHead:
        """Load a head saved by :meth:`save`; never unpickles anything
        (:func:`~embaug_core.training.head_files.read_head`)."""
        from .head_files import read_head

        return cls(**read_head(directory, device=device))


def _training_labels(labels, class_names) -> tuple[tuple[str, ...], np.ndarray]:
    """(class names in output order, class indices (n,)) of training labels, or a clear error."""
    from ..evaluation.metrics import encode_labels

    labels = list(labels)
    if any(lab is None for lab in labels):
        raise ConfigError("training labels contain unlabelled rows; drop them first.")
    names = tuple(class_names) if class_names is not None else tuple(sorted(set(labels)))
    if len(names) < 2:
        raise ConfigError(f"training needs at least 2 classes; got {len(names)}.")
    y = encode_labels(labels, names)
    if (y == NONE).any():
        raise ConfigError("some training labels are not in class_names.")
    return names, y


def _exposed(config: TrainConfig, none_examples):
    """The rows training sees as outliers: the none examples when the config asks for outlier exposure."""
    return none_examples if config.outlier_exposure and none_examples is not None else None


def _stage_progress(progress):
    """An EpochRecord progress callback fed from the recipe's (stage, epoch, epochs) reports."""
    if progress is None:
        return None
    import math

    def report(stage: str, epoch: int, epochs: int) -> None:  # both stages: validation heads, then the final one
        nan = math.nan
        progress(EpochRecord(epoch, epochs, nan, nan, nan, nan, nan, nan))

    return report


def _held_out_validation(held_out, x, none_examples=None):
    """The ScoreValidation of the auto recipe's validation split (a :class:`~embaug_core.training.selection.HeldOut`)
    in rows ``x`` (n, D): its known rows make the percentile scale, and its removed classes choose the fused
    weight (:func:`~embaug_core.evaluation.scores.best_fused_weight`). With ``none_examples`` (b, D), rows known
    to be out of scope, those break the weight's ties and choose k; without them k keeps its default (the
    split's few removed classes choose it too noisily for one head: on the golden slice, none-AUROC 0.885 for
    kNN against 0.930 with the default k)."""
    from ..evaluation.score_validation import ScoreValidation

    x = np.asarray(x, dtype=np.float32)
    known, held = held_out.y_eval != NONE, x[held_out.eval_idx]
    # the split's removed classes choose the fused weight; the none examples, when given, break its ties and choose k
    check = ScoreValidation.from_split(
        x[held_out.train_idx],
        held[known],
        logits_of(held_out.head, held[known]),
        held[~known],
        logits_of(held_out.head, held[~known]),
    )
    if none_examples is None:
        return replace(check, choose_k=False)
    ex = np.asarray(none_examples, dtype=np.float32)
    return check.with_none_examples(ex, logits_of(held_out.head, ex))
