"""embaug: small, calibrated classifier heads on pre-trained embeddings.

The library behind the ``embaug`` command and the Streamlit dashboard; it never imports
Streamlit. Main entry points:

* :func:`embaug_core.data.load_embeddings` -> :class:`~embaug_core.data.EmbeddingSet`
* :class:`embaug_core.train.TrainConfig`, :class:`embaug_core.train.TrainedHead`
* :func:`embaug_core.evaluation.evaluate`, :class:`embaug_core.thresholds.ThresholdSweep`
* :func:`embaug_core.thresholds.route`: a class or "none" per row (the one accept rule)
* :func:`embaug_core.experiment.run_experiment`
* :class:`embaug_core.sklearn.EmbaugClassifier`: the head as a scikit-learn estimator
"""

__version__ = "0.1.0"
