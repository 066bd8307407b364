"""Schema inference on the table shapes users bring, with no flags beyond the label column."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from embaug_core.cli import main
from embaug_core.data.schema import LABEL_NAMES
from embaug_core.data.table import load_embeddings
from embaug_core.errors import ColumnChoiceError

N, D = 12, 6
RNG = np.random.default_rng(0)
EMB = RNG.normal(size=(N, D)).astype(np.float32)
LABELS = [f"c{i % 3}" for i in range(N)]


def _csv(frame: pd.DataFrame, **kw) -> bytes:
    return frame.to_csv(**{"index": False, **kw}).encode()


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _wide(prefix: str, **front) -> pd.DataFrame:
    frame = pd.DataFrame(front)
    emb = pd.DataFrame(EMB, columns=[f"{prefix}{i}" for i in range(D)])
    return pd.concat([frame, emb], axis=1)


def _st_frame() -> pd.DataFrame:
    """sentence-transformers output kept by pandas: pd.DataFrame(model.encode(texts)) -> columns 0..D-1."""
    frame = pd.DataFrame(EMB)
    frame["text"] = [f"text {i}" for i in range(N)]
    frame["label"] = LABELS
    return frame


IDS = [f"q{i:03d}" for i in range(N)]
VECTORS = [list(map(float, row)) for row in EMB]

# name, file bytes, file name, label column, expected id column (None: row numbers), expected extra columns
SHAPES = [
    ("id,label,e0..", _csv(_wide("e", id=range(100, 100 + N), label=LABELS)), "t.csv", "label", "id", []),
    ("ID upper case", _csv(_wide("emb_", ID=IDS, label=LABELS)), "t.csv", "label", "ID", []),
    ("*_id and id", _csv(_wide("e", item_id=range(N), id=IDS, label=LABELS)), "t.csv", "label", "id", ["item_id"]),
    ("pandas to_csv with index", _csv(_wide("emb_", label=LABELS), index=True), "t.csv", "label", "Unnamed: 0", []),
    (
        "to_csv with index and an id",
        _csv(_wide("e", id=IDS, label=LABELS), index=True),
        "t.csv",
        "label",
        "id",
        ["Unnamed: 0"],
    ),
    ("sentence-transformers frame, 0..D-1", _csv(_st_frame()), "t.csv", "label", None, ["text"]),
    ("sentence-transformers frame with index", _csv(_st_frame(), index=True), "t.csv", "label", "Unnamed: 0", ["text"]),
    ("x_0.. prefix, label 'intent'", _csv(_wide("x_", intent=LABELS)), "t.csv", "intent", None, []),
    ("label 'category', TSV", _csv(_wide("f", category=LABELS), sep="\t"), "t.tsv", "category", None, []),
    ("numeric label 'y'", _csv(_wide("e", y=[i % 3 for i in range(N)])), "t.csv", "y", None, []),
    (
        "unlabelled rows",
        _csv(_wide("e", id=IDS, label=[None if i % 4 == 0 else lab for i, lab in enumerate(LABELS)])),
        "t.csv",
        "label",
        "id",
        [],
    ),
    (
        "unique integer column apart from the family",
        _csv(_wide("e", doc=range(7, 7 + N), label=LABELS)),
        "t.csv",
        "label",
        "doc",
        [],
    ),
    (
        "Parquet list column",
        _parquet(pd.DataFrame({"id": IDS, "label": LABELS, "embedding": VECTORS})),
        "t.parquet",
        "label",
        "id",
        [],
    ),
    (
        "Hugging Face datasets export (Parquet: text, label, embeddings)",
        _parquet(pd.DataFrame({"text": [f"t{i}" for i in range(N)], "label": LABELS, "embeddings": VECTORS})),
        "t.parquet",
        "label",
        None,
        ["text"],
    ),
    (
        "Hugging Face datasets to_csv (vectors as strings)",
        _csv(pd.DataFrame({"idx": range(N), "label": LABELS, "embeddings": [str(v) for v in VECTORS]})),
        "t.csv",
        "label",
        "idx",
        [],
    ),
    ("NPZ with ids", _npz(embeddings=EMB, id=np.array(IDS), label=np.array(LABELS)), "t.npz", "label", "id", []),
    ("NPZ without ids", _npz(embeddings=EMB, label=np.array(LABELS)), "t.npz", "label", None, []),
    (
        "string uuid column",
        _csv(_wide("e", uuid=[f"u-{i}" for i in range(N)], label=LABELS)),
        "t.csv",
        "label",
        "uuid",
        [],
    ),
]


@pytest.mark.parametrize("name, data, filename, label, id_col, extra", SHAPES, ids=[s[0] for s in SHAPES])
def test_common_shapes_load_without_flags(name, data, filename, label, id_col, extra):
    ds = load_embeddings(data, name=filename, label_col=label)
    assert ds.dim == D and ds.n_samples == N
    np.testing.assert_allclose(ds.embeddings, EMB, rtol=1e-6)
    assert ds.id_column == id_col
    assert sorted(ds.extra.columns) == sorted(extra)
    if id_col is None:
        assert list(ds.ids) == [str(i) for i in range(N)]
    assert len(SHAPES) >= 15


def test_ambiguous_tables_still_ask_and_say_how_on_each_surface(tmp_path, capsys):
    # a float column, and an integer column that repeats, are not identifiers: the table stays ambiguous
    for extra in ({"price": np.linspace(1, 2, N)}, {"year": [2020 + i % 2 for i in range(N)]}):
        data = _csv(_wide("e", label=LABELS, **extra))
        with pytest.raises(ColumnChoiceError) as err:
            load_embeddings(data, name="t.csv", label_col="label")
        assert err.value.choice == "embedding" and "--" not in str(err.value)  # no surface's words in the core
    path = tmp_path / "t.csv"
    path.write_bytes(_csv(_wide("e", label=LABELS, price=np.linspace(1, 2, N))))
    assert main(["train", str(path), "--label-col", "label", "--epochs", "1", "--out", str(tmp_path / "m")]) == 2
    assert "--embedding-cols" in capsys.readouterr().err


def test_train_on_an_id_label_e_table_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "intents.csv"
    path.write_bytes(_csv(_wide("e", id=range(N), label=LABELS)))
    assert main(["train", str(path), "--label-col", "label", "--epochs", "1", "--out", str(tmp_path / "m")]) == 0
    assert f"x {D} dims" in capsys.readouterr().err


def test_label_names_cover_the_common_ones():
    assert {"label", "intent", "category", "y"} <= set(LABEL_NAMES)
