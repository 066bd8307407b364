"""embaug: small, calibrated classifier heads on pre-trained embeddings.

The library behind the ``embaug`` command and the Streamlit dashboard; it never imports
Streamlit. Main entry points:

* :func:`embaug_core.data.load_embeddings` -> :class:`~embaug_core.data.EmbeddingSet`
* :class:`embaug_core.train.TrainConfig`, :class:`embaug_core.train.TrainedHead`
* :func:`embaug_core.evaluation.evaluate`, :class:`embaug_core.thresholds.ThresholdSweep`
* :func:`embaug_core.experiment.run_experiment`
"""

__version__ = "0.1.0"
