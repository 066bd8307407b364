import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import blob_frame, blobs

from embaug_core.data.table import load_embeddings, save_embeddings
from embaug_core.errors import DataError


def csv_bytes(text: str) -> bytes:
    return text.encode()


def load_csv(text: str, **kw):
    kw.setdefault("label_col", "label")
    return load_embeddings(csv_bytes(text), name="t.csv", **kw)


def test_csv_numeric_columns_with_extra_and_id(blob_csv):
    ds = load_embeddings(blob_csv, label_col="label", id_col="item")
    assert ds.embeddings.shape == (240, 16) and ds.embeddings.dtype == np.float32
    assert ds.embeddings.flags["C_CONTIGUOUS"]
    assert ds.classes == tuple(f"c{i}" for i in range(6))
    assert ds.ids[0] == "row0"
    assert list(ds.extra.columns) == ["text"]  # kept beside, not part of the embedding
    assert ds.embedding_columns[0] == "emb_0"
    x, _ = blobs()
    np.testing.assert_allclose(ds.embeddings, x, rtol=1e-6)


@pytest.mark.parametrize("ext", ["csv", "parquet", "npz"])
def test_round_trip_through_every_format(tmp_path, blob_csv, ext):
    ds = load_embeddings(blob_csv, label_col="label", id_col="item")
    path = save_embeddings(ds, tmp_path / f"out.{ext}")
    back = load_embeddings(path, label_col="label", id_col="item")
    np.testing.assert_allclose(back.embeddings, ds.embeddings, rtol=1e-6)
    assert list(back.labels) == list(ds.labels)
    assert list(back.ids) == list(ds.ids)
    assert "text" in back.extra.columns


def test_vector_column_in_csv_and_parquet(tmp_path):
    frame = pd.DataFrame({"label": ["a", "b", "a"], "vec": ["[1, 2, 3]", "[4.5, 5, 6]", "[0, 0, -1e-3]"]})
    ds = load_embeddings(frame.to_csv(index=False).encode(), name="v.csv", label_col="label")
    assert ds.embeddings.shape == (3, 3) and ds.embedding_columns == ("vec",)
    pq = pd.DataFrame({"label": ["a", "b"], "vec": [[1.0, 2.0], [3.0, 4.0]]})
    pq.to_parquet(tmp_path / "v.parquet")
    ds2 = load_embeddings(tmp_path / "v.parquet", label_col="label")
    assert ds2.embeddings.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_unlabelled_rows_are_kept_as_none():
    ds = load_csv("label,e1,e2\na,1,2\n,3,4\nb,5,6\n  ,7,8\n")
    assert list(ds.labels) == ["a", None, "b", None]
    assert ds.summary()["unlabelled_rows"] == 2


def test_numeric_labels_become_strings():
    ds = load_csv("label,e1,e2\n1,1,2\n2,3,4\n,5,6\n")
    assert list(ds.labels) == ["1", "2", None]


def test_prefix_and_list_selection_resolve_ambiguity():
    text = "label,price,emb_0,emb_1\na,9.5,1,2\nb,3.0,3,4\n"
    with pytest.raises(DataError, match="cannot tell which numeric columns"):
        load_csv(text)
    assert load_csv(text, embedding_cols="emb_").embedding_columns == ("emb_0", "emb_1")
    assert load_csv(text, embedding_cols=["price", "emb_1"]).embeddings.tolist() == [[9.5, 2.0], [3.0, 4.0]]


def test_npz_with_several_matrices_needs_a_name():
    buf = io.BytesIO()
    np.savez(buf, a=np.zeros((2, 3)), b=np.ones((2, 4)), label=np.array(["x", "y"]))
    with pytest.raises(DataError, match="several 2-D arrays"):
        load_embeddings(buf.getvalue(), name="m.npz", label_col="label")
    assert load_embeddings(buf.getvalue(), name="m.npz", label_col="label", vector_col="b").dim == 4


@pytest.mark.parametrize(
    "text, kw, message",
    [
        ("label,e1,e2\na,1,2\nb,x,4\n", {}, r"column 'e2'|column 'e1', data row 2: 'x' is not a number"),
        ("label,emb_0,emb_1\na,1,2\nb,oops,4\n", {}, r"'emb_0', data row 2: 'oops' is not a number"),
        ("label,e1,e2\na,1,2\nb,nan,4\n", {}, r"column 'e1', data row 2: value is missing \(NaN\)"),
        ("label,e1,e2\na,1,2\nb,3,inf\n", {}, r"column 'e2', data row 2: value is infinite"),
        ('label,vec\na,"[1,2,3]"\nb,"[1,2]"\n', {}, r"3 in most rows but 2 in data row 2"),
        ("label,e1,e2\na,1,2\na,3,4\n", {}, r"1 distinct class\(es\).*at least 2"),
        ("label,e1,e2\n", {}, r"header but no data rows"),
        ("", {}, r"empty"),
        ("label,e1,e1\na,1,2\nb,3,4\n", {}, r"duplicate column name\(s\).*'e1'"),
        ("lable,e1,e2\na,1,2\nb,3,4\n", {}, r"no label column 'label'. Did you mean 'lable'"),
        ("label,e1,e2\na,1,2\nb,3,4\n", {"id_col": "key"}, r"no id column 'key'"),
        ("label,key,e1\na,k1,2\nb,k1,4\n", {"id_col": "key"}, r"repeats 'k1' in data rows 1 and 2"),
        ("label,text\na,hello\nb,world\n", {}, r"no embedding found"),
    ],
)
def test_errors_say_what_and_where(text, kw, message):
    with pytest.raises(DataError, match=message):
        load_csv(text, **kw)


def test_non_utf8_file():
    with pytest.raises(DataError, match=r"line 3 is not valid UTF-8"):
        load_embeddings(b"label,e1,e2\na,1,2\n" + b"\xff\xfe,3,4\n", name="bad.csv", label_col="label")


def test_csv_that_is_really_a_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x.txt", "hi")
    with pytest.raises(DataError, match="content is a ZIP/NPZ"):
        load_embeddings(buf.getvalue(), name="data.csv", label_col="label")


def test_truncated_parquet_and_npz(tmp_path):
    frame = blob_frame(per_class=5)
    frame.to_parquet(tmp_path / "x.parquet")
    data = (tmp_path / "x.parquet").read_bytes()
    with pytest.raises(DataError, match="Parquet"):
        load_embeddings(data[: len(data) // 2], name="x.parquet", label_col="label")
    buf = io.BytesIO()
    np.savez(buf, embeddings=np.zeros((4, 3)), label=np.array(list("abab")))
    raw = buf.getvalue()
    with pytest.raises(DataError, match="NPZ"):
        load_embeddings(raw[: len(raw) - 40], name="x.npz", label_col="label")


def test_npz_object_arrays_are_never_unpickled():
    buf = io.BytesIO()
    np.savez(buf, embeddings=np.zeros((2, 3)), label=np.array(["a", None], dtype=object))
    with pytest.raises(DataError, match="never unpickled"):
        load_embeddings(buf.getvalue(), name="p.npz", label_col="label")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_embeddings(tmp_path / "nope.csv", label_col="label")
    with pytest.raises(DataError, match="is a folder"):
        load_embeddings(tmp_path, label_col="label")


def test_prediction_tables_need_no_label():
    ds = load_csv("e1,e2\n1,2\n3,4\n", label_col=None)
    assert ds.n_samples == 2 and all(lab is None for lab in ds.labels)


def test_subset_keeps_everything_aligned(blob_csv):
    ds = load_embeddings(blob_csv, label_col="label", id_col="item")
    sub = ds.subset(np.array([5, 0]))
    assert list(sub.ids) == ["row5", "row0"]
    np.testing.assert_array_equal(sub.embeddings[0], ds.embeddings[5])
    assert sub.extra["text"].tolist() == ["text of row 5", "text of row 0"]


def test_bundled_sample_loads():
    from pathlib import Path

    ds = load_embeddings(
        Path(__file__).parent.parent / "sample_data" / "clinc150_minilm.npz", label_col="intent", id_col="id"
    )
    assert ds.dim == 384 and len(ds.classes) == 150 and ds.n_samples == 15000
    assert "text" in ds.extra.columns
