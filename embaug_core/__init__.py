"""embaug: small, calibrated classifier heads on pre-trained embeddings.

The library behind the ``embaug`` command and the Streamlit dashboard; it never imports Streamlit.
Its public names, importable from here (each loads on first use, so ``import embaug_core`` is free)::

    from embaug_core import load_embeddings, TrainConfig, TrainedHead, evaluate, route

    ds = load_embeddings("sample_data/clinc150_minilm.npz", label_col="intent", id_col="id")
    head = TrainedHead.train(ds.embeddings, ds.labels, TrainConfig.preset(method="e_stitchup"))
    route(head.predict_proba(ds.embeddings[:5]), 0.6, head.class_names)  # a class, or "none"

The packages, lowest layer first (each imports only those below it; ``lint-imports`` checks it):

* :mod:`embaug_core.data` — tables, schema detection, the paper's splits, raw text / images to embeddings;
* :mod:`embaug_core.evaluation` — metrics, the accept rule and thresholds, none scores, guarantees;
* :mod:`embaug_core.training` — the config, augmentations, engine, recipe and the trained head;
* :mod:`embaug_core.plots` — figures drawn from those results;
* :mod:`embaug_core.discovery` — the rows a head refuses, grouped so that a person names a group at once;
* :mod:`embaug_core.experiment` — the paper's protocol, its results, tables and report;
  :mod:`embaug_core.labelling` — the labelling queue;
* :mod:`embaug_core.runs` — the run store, the training queue, worker processes;
* :mod:`embaug_core.cli` — the ``embaug`` command.
"""

from typing import TYPE_CHECKING

from ._lazy import attach

__version__ = "0.1.0"

#: The public API: name -> the module that defines it (its one home).
_HOMES = {
    "EmbaugError": ".errors",
    "EmbeddingSet": ".data.table",
    "load_embeddings": ".data.table",
    "save_embeddings": ".data.table",
    "NoneProtocol": ".data.splits",
    "TrainConfig": ".training.config",
    "TrainedHead": ".training.trained_head",
    "EmbaugClassifier": ".training.estimator",
    "Evaluation": ".evaluation.summary",
    "evaluate": ".evaluation.summary",
    "route": ".evaluation.thresholds",
    "ThresholdSweep": ".evaluation.thresholds",
    "encode_labels": ".evaluation.metrics",
    "SCORE_NAMES": ".evaluation.scores",
    "guaranteed_threshold": ".evaluation.guarantee",
    "risk_controlled_threshold": ".evaluation.risk_control",
    "check_batch": ".evaluation.live_check",
    "ThresholdDocument": ".evaluation.threshold_file",
    "load_threshold": ".evaluation.threshold_file",
    "ExperimentConfig": ".experiment.config",
    "ExperimentResult": ".experiment.results",
    "run_experiment": ".experiment.run",
    "RunStore": ".runs.store",
    "discover": ".discovery.pool",
    "Discovery": ".discovery.groups",
}
__all__, __getattr__, __dir__ = attach(__name__, _HOMES)

if TYPE_CHECKING:  # what type checkers and IDEs see; tests/test_layout.py checks it matches _HOMES
    from .data.splits import NoneProtocol as NoneProtocol
    from .data.table import (
        EmbeddingSet as EmbeddingSet,
    )
    from .data.table import (
        load_embeddings as load_embeddings,
    )
    from .data.table import (
        save_embeddings as save_embeddings,
    )
    from .discovery.groups import Discovery as Discovery
    from .discovery.pool import discover as discover
    from .errors import EmbaugError as EmbaugError
    from .evaluation.guarantee import guaranteed_threshold as guaranteed_threshold
    from .evaluation.live_check import check_batch as check_batch
    from .evaluation.metrics import encode_labels as encode_labels
    from .evaluation.risk_control import risk_controlled_threshold as risk_controlled_threshold
    from .evaluation.scores import SCORE_NAMES as SCORE_NAMES
    from .evaluation.summary import Evaluation as Evaluation
    from .evaluation.summary import evaluate as evaluate
    from .evaluation.threshold_file import ThresholdDocument as ThresholdDocument
    from .evaluation.threshold_file import load_threshold as load_threshold
    from .evaluation.thresholds import ThresholdSweep as ThresholdSweep
    from .evaluation.thresholds import route as route
    from .experiment.config import ExperimentConfig as ExperimentConfig
    from .experiment.results import ExperimentResult as ExperimentResult
    from .experiment.run import run_experiment as run_experiment
    from .runs.store import RunStore as RunStore
    from .training.config import TrainConfig as TrainConfig
    from .training.estimator import EmbaugClassifier as EmbaugClassifier
    from .training.trained_head import TrainedHead as TrainedHead
