"""A scikit-learn estimator over embaug's head: :class:`EmbaugClassifier`.

It takes part in Pipelines, ``GridSearchCV``, ``cross_val_score`` and scikit-learn's
calibration tools (``FrozenEstimator`` + ``CalibratedClassifierCV``, ``CalibrationDisplay``).
Every :class:`~embaug_core.training.config.TrainConfig` field is a constructor parameter; ``threshold``
and ``none_label`` make :meth:`~EmbaugClassifier.predict` answer "none" below the threshold
through :func:`embaug_core.evaluation.thresholds.route`, the one accept rule.

Conventions, where scikit-learn's differ from the paper's sigmoid head:

* :meth:`~EmbaugClassifier.predict_sigmoid` gives the head's own outputs (n, C), which need
  not sum to 1; the confidence that ``threshold`` is compared with is their row maximum, as
  everywhere in embaug.
* :meth:`~EmbaugClassifier.predict_proba` gives them normalised to sum to 1 per row, as
  scikit-learn requires (and as ``OneVsRestClassifier`` does); the argmax is the same.
* :meth:`~EmbaugClassifier.decision_function` gives the logits (n, C); for two classes
  scikit-learn expects one column, so it gives ``log s_1 - log s_0`` of the two sigmoid
  outputs, positive for the second class and ordered like ``predict_proba[:, 1]``.

Inference runs in float64 on the CPU, so a row's answer does not depend on which other rows
are predicted with it.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import fields

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..evaluation.metrics import sigmoid
from ..evaluation.thresholds import route
from .config import TrainConfig
from .models import train_model

__all__ = ["EmbaugClassifier"]

#: The estimator's defaults: every TrainConfig field, with the auto recipe (``recipe="fixed"`` then trains
#: the fast preset, 48 epochs), plus ``threshold`` and ``none_label``.
_TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))
DEFAULTS = {
    **TrainConfig.preset("fast", recipe="auto").to_dict(),
    "hidden": (250, 250),
    "threshold": None,
    "none_label": "none",
}
_SIGNATURE = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=v) for name, v in DEFAULTS.items()]
)


def _init(self, *args, **params):
    # scikit-learn reads the parameters from this signature (BaseEstimator._get_param_names), so they are
    # TrainConfig's fields by construction, never a hand-copied list
    bound = _SIGNATURE.bind(self, *args, **params)
    bound.apply_defaults()
    for name, value in list(bound.arguments.items())[1:]:
        setattr(self, name, value)


_init.__signature__ = _SIGNATURE


class EmbaugClassifier(ClassifierMixin, BaseEstimator):
    """embaug's MLP head with embedding-level augmentation, as a scikit-learn classifier.

    Parameters
    ----------
    method, alpha, softness, soft_mass, epochs, batch_size, lr_min, lr_max, lr_cycle_epochs, weight_decay,
    optimizer, fused, lr_schedule, patience, stop_epoch, recipe, hidden, dropout, seed, device,
    reference_threshold, kernel_tau_max, kernel_tau_std, stitch_mask, model, C, ensemble, blend_C
        Every field of :class:`~embaug_core.training.config.TrainConfig`, with its meaning there; the
        parameters are made from its fields, so a new field is a new parameter. Default ``recipe="auto"``:
        batch, learning rate, length and a temperature chosen on a validation split of the rows given to
        :meth:`fit` (:mod:`embaug_core.training.recipe`; epochs, batch size and learning rates are then
        ignored). ``recipe="fixed"`` trains exactly the given settings (default 48 epochs, the ``fast``
        preset). ``ensemble=5`` averages five heads of different seeds; ``model="logreg"`` is logistic
        regression behind the same interface; ``blend_C=1.0`` averages the head's probabilities with
        logistic regression's at that C; ``regmixup`` adds the clean batch's loss; ``precision`` is the
        training step's (the auto recipe picks bfloat16 where the device is fast at it). ``outlier_exposure``
        has no effect here: :meth:`fit` takes no none examples.
    threshold : float in [0, 1] or None
        When set, :meth:`predict` answers ``none_label`` for rows whose confidence (the
        largest sigmoid output) is below it.
    none_label : the answer for such rows (default "none")

    Attributes
    ----------
    classes_ : (C,) the labels seen in ``fit``, sorted
    n_features_in_ : int
    model_ : the trained model (:mod:`embaug_core.training.models`; training device)
    history_ : list of EpochRecord
    training_ : dict, what the "auto" recipe chose (best epoch, temperature, validation split)
    """

    __init__ = _init

    def train_config(self) -> TrainConfig:
        """The :class:`TrainConfig` of the current parameters (validated)."""
        return TrainConfig(**{name: getattr(self, name) for name in _TRAIN_FIELDS})

    def fit(self, X, y):
        """Train on X (n, D) and labels y (n,); returns self."""
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(X) < 2:
            raise ValueError(f"Found {len(X)} sample(s); training needs at least 2 samples.")
        if len(self.classes_) < 2:
            raise ValueError(f"y has {len(self.classes_)} class; a classifier needs at least 2 classes.")
        config = self.train_config()
        if config.recipe == "auto":
            from .selection import select_and_train

            names = [str(c) for c in self.classes_]
            auto = select_and_train(X, y_idx, names, [config])
            model, self.history_, self.training_ = auto.head, auto.history, auto.info
        else:
            model, self.history_ = train_model(X, y_idx, len(self.classes_), config)
            self.training_ = {"recipe": "fixed"}
        self.model_ = model
        # float64 copy on the CPU for inference: answers that do not depend on the batch
        self._inference = copy.deepcopy(model).to("cpu", torch.float64).eval()
        return self

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if not isinstance(self._inference, torch.nn.Module):  # fitted (and pickled) before 2026-11-30: a list
            self._inference = copy.deepcopy(self.model_).to("cpu", torch.float64).eval()
        with torch.no_grad():
            return self._inference(torch.as_tensor(X, dtype=torch.float64)).numpy()

    def predict_sigmoid(self, X) -> np.ndarray:
        """The head's sigmoid outputs (n, C), float64; rows need not sum to 1."""
        return sigmoid(self._logits(X))

    def predict_proba(self, X) -> np.ndarray:
        """The sigmoid outputs normalised to sum to 1 per row (n, C), in the order of ``classes_``."""
        s = self.predict_sigmoid(X)
        return s / np.maximum(s.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)

    def decision_function(self, X) -> np.ndarray:
        """Logits (n, C); with two classes ``log s_1 - log s_0`` (n,), positive for ``classes_[1]``."""
        z = self._logits(X)
        if len(self.classes_) == 2:
            log_s = -np.logaddexp(0.0, -z)  # log sigmoid, stable
            return log_s[:, 1] - log_s[:, 0]
        return z

    def predict(self, X) -> np.ndarray:
        """The most probable class; with ``threshold`` set, ``none_label`` below it."""
        s = self.predict_sigmoid(X)
        if self.threshold is None:
            return self.classes_[s.argmax(axis=1)]
        answers = route(s, float(self.threshold), range(len(self.classes_)), none_answer=-1)
        idx = answers.astype(np.int64)
        out = self.classes_[np.maximum(idx, 0)].astype(object)
        out[idx < 0] = self.none_label
        return out
