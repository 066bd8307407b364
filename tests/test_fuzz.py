"""Property-based fuzzing: no input gives anything but a valid result or embaug's own error."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from embaug_core.data.table import EmbeddingSet, load_embeddings
from embaug_core.errors import EmbaugError
from embaug_core.evaluation.threshold_file import ThresholdDocument, load_threshold

FUZZ = settings(
    max_examples=int(os.environ.get("EMBAUG_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _load(data: bytes, name: str, **kw):
    try:
        ds = load_embeddings(data, name=name, label_col="label", **kw)
    except EmbaugError:
        return None
    assert isinstance(ds, EmbeddingSet)
    assert ds.embeddings.dtype == np.float32 and np.isfinite(ds.embeddings).all()
    assert len(ds.labels) == len(ds.ids) == ds.n_samples > 0 and len(ds.classes) >= 2
    return ds


@FUZZ
@given(data=st.binary(max_size=400), ext=st.sampled_from(["csv", "parquet", "npz", "tsv", "bin"]))
@example(data=b"PAR1", ext="parquet")
@example(data=b"PK\x03\x04", ext="npz")
@example(data=b"\xef\xbb\xbf", ext="csv")
@example(data=b"label\n\n\n", ext="csv")
def test_arbitrary_bytes(data, ext):
    _load(data, f"fuzz.{ext}")


cell = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "inf", "-inf", "NA", "null", "[1, 2]", "[1,2,3]", "x", "é", '"q"', " ", "1e400"]),
    st.text(max_size=6),
)


@FUZZ
@given(
    header=st.lists(
        st.sampled_from(["label", "id", "e0", "e1", "e2", "emb_0", "emb_1", "vec", "text", "label", ""]),
        min_size=1,
        max_size=6,
    ),
    rows=st.lists(st.lists(cell, min_size=0, max_size=7), max_size=8),
    sep=st.sampled_from([",", "\t"]),
)
@example(header=["label", "e0"], rows=[["a", "1"], ["b", "1e400"]], sep=",")
@example(header=["label", "vec"], rows=[["a", "[1, 2]"], ["b", "[1,2,3]"]], sep=",")
def test_structured_csv(header, rows, sep):
    text = sep.join(header) + "\n" + "\n".join(sep.join(r) for r in rows)
    _load(text.encode("utf-8"), "fuzz.csv")


@FUZZ
@given(
    n=st.integers(0, 6),
    dim=st.integers(0, 4),
    labels=st.lists(st.sampled_from(["a", "b", "", "c"]), min_size=0, max_size=6),
    dtype=st.sampled_from(["float32", "float16", "int8", "bool", "U3", "complex64"]),
)
def test_structured_npz(n, dim, labels, dtype):
    buf = io.BytesIO()
    arrays = {"embeddings": np.ones((n, dim)).astype(dtype)}
    if labels:
        arrays["label"] = np.array(labels[:n] + ["a"] * max(0, n - len(labels)))[: max(n, 1)]
    np.savez(buf, **arrays)
    _load(buf.getvalue(), "fuzz.npz")


@FUZZ
@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3)),
        min_size=1,
        max_size=6,
    )
)
def test_structured_parquet(values):
    frame = pd.DataFrame({"label": ["a", "b"] * 3, "e0": [1.0] * 6, "e1": (values * 6)[:6]})
    buf = io.BytesIO()
    try:
        frame.to_parquet(buf)
    except Exception:
        return
    _load(buf.getvalue(), "fuzz.parquet")


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
VALID = {
    "schema": "embaug.threshold",
    "version": 1,
    "threshold": 0.5,
    "source": "manual",
    "method": "control",
    "class_names": ["a", "b"],
    "model": {"fingerprint": "sha256:00"},
    "validation": {"id_accuracy": None, "none_accuracy": None, "overall_accuracy": None},
    "created": "2026-11-21T20:00:00+00:00",
}


def _threshold(data: bytes):
    try:
        doc = load_threshold(data)
    except EmbaugError:
        return
    assert isinstance(doc, ThresholdDocument) and 0.0 <= doc.threshold <= 1.0
    assert ThresholdDocument.from_dict(doc.to_dict()) == doc


@FUZZ
@given(st.binary(max_size=200))
def test_threshold_arbitrary_bytes(data):
    _threshold(data)


@FUZZ
@given(json_values)
def test_threshold_arbitrary_json(value):
    _threshold(json.dumps(value).encode())


@FUZZ
@given(key=st.sampled_from(sorted(VALID)), value=json_values)
@example(key="threshold", value=float("nan"))
@example(key="created", value="2026-13-45")
def test_threshold_one_field_changed(key, value):
    doc = dict(VALID, **{key: value})
    try:
        data = json.dumps(doc).encode()
    except ValueError:
        return
    _threshold(data)
