"""Data: embedding tables in, the paper's splits out.

* :mod:`~embaug_core.data.readers` — CSV / Parquet / NPZ bytes to a DataFrame (never unpickles);
* :mod:`~embaug_core.data.schema` — which columns are the label, the ids and the embedding;
* :mod:`~embaug_core.data.table` — :class:`EmbeddingSet`, loading, validating and saving a table;
* :mod:`~embaug_core.data.splits` — the paper's protocol as index splits, and how "none" is simulated;
* :mod:`~embaug_core.data.projection` — the 2-D preview of a table;
* :mod:`embaug_core.data.embed` — raw text and images to embeddings, with offline models.
"""

from .._lazy import attach

__all__, __getattr__, __dir__ = attach(
    __name__,
    {
        "EmbeddingSet": ".table",
        "RawTable": ".table",
        "load_embeddings": ".table",
        "read_table": ".table",
        "from_dataframe": ".table",
        "save_embeddings": ".table",
        "embeddings_bytes": ".table",
        "Detected": ".schema",
        "detect": ".schema",
        "detect_id_columns": ".schema",
        "LABEL_NAMES": ".schema",
        "NoneProtocol": ".splits",
        "Split": ".splits",
        "trial_split": ".splits",
        "threshold_validation_split": ".splits",
        "make_trials": ".splits",
        "project_2d": ".projection",
    },
)
