"""Training: the head, the augmentations, the engine and the recipe, and the trained head you keep.

* :mod:`~embaug_core.training.config` — :class:`TrainConfig`, the one training configuration (CLI,
  dashboard, library and scikit-learn estimator), its presets, and the :class:`SearchGrid` of the
  auto method;
* :mod:`~embaug_core.training.augment` — E-Mixup, E-Stitchup, SK-Mixup and label softening, as pure
  tensor functions that take an explicit ``torch.Generator``;
* :mod:`~embaug_core.training.heads` — the MLP head and the one forward pass of one or K stacked heads;
* :mod:`~embaug_core.training.draws` — one epoch's random draws per head and the augmented batches;
* :mod:`~embaug_core.training.engine` — the training loop (:func:`fit` = :func:`fit_stacked` with K = 1);
* :mod:`~embaug_core.training.recipe` — the auto recipe (batch, learning rate, best epoch, temperature);
* :mod:`~embaug_core.training.selection` — the auto method: heads, a deep ensemble and logistic regression
  ranked on one validation split, the winner retrained;
* :mod:`~embaug_core.training.models` — what a trained head holds: one MLP head, an ensemble of them, or
  logistic regression, all giving sigmoid logits;
* :mod:`~embaug_core.training.trained_head` — :class:`TrainedHead`: train, predict, save, load;
* :mod:`~embaug_core.training.logreg` — logistic regression, the peer;
* :mod:`~embaug_core.training.estimator` — :class:`EmbaugClassifier`, the head as a scikit-learn estimator.
"""

from .._lazy import attach

__all__, __getattr__, __dir__ = attach(
    __name__,
    {
        "TrainConfig": ".config",
        "SearchGrid": ".config",
        "PRESETS": ".config",
        "PRESET_NAMES": ".config",
        "DEFAULT_PRESET": ".config",
        "Method": ".augment",
        "METHOD_NAMES": ".augment",
        "PAPER_METHODS": ".augment",
        "AUTO_METHODS": ".augment",
        "get_method": ".augment",
        "HeadConfig": ".heads",
        "MLPHead": ".heads",
        "EpochRecord": ".engine",
        "fit": ".engine",
        "fit_stacked": ".engine",
        "AutoRecipe": ".recipe",
        "EnsembleHead": ".models",
        "SoftmaxHead": ".models",
        "train_model": ".models",
        "TrainedHead": ".trained_head",
        "LogisticRegressionBaseline": ".logreg",
        "EmbaugClassifier": ".estimator",
    },
)
