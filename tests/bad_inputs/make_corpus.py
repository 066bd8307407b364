"""Writes the malformed files of this folder (run once; the files are committed).

    python tests/bad_inputs/make_corpus.py

Every file is small and deterministic. cases.py says, per file, which command reads it and
the message a user must get.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
GOOD_HEADER = "label,e0,e1,e2"


def good_rows(n=6):
    return "\n".join(f"c{i % 3},{i}.0,{i + 1}.5,{-i}.25" for i in range(n))


def write(name: str, data: str | bytes) -> None:
    path = HERE / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def main() -> None:
    # --- tables (CSV) -------------------------------------------------------------
    write("ragged_rows.csv", f"{GOOD_HEADER}\n{good_rows()}\nc1,1.0,2.0,3.0,4.0,5.0\n")
    write("nan_value.csv", f"{GOOD_HEADER}\n{good_rows()}\nc1,1.0,nan,3.0\n")
    write("inf_value.csv", f"{GOOD_HEADER}\n{good_rows()}\nc2,1.0,2.0,-inf\n")
    write("text_in_numeric.csv", f"{GOOD_HEADER}\n{good_rows()}\nc2,1.0,two,3.0\n")
    write("vector_mixed_lengths.csv", 'label,vec\nc0,"[1, 2, 3]"\nc1,"[4, 5, 6]"\nc2,"[7, 8]"\n')
    write("single_class.csv", "label,e0,e1\n" + "\n".join(f"only,{i},{i}" for i in range(5)) + "\n")
    write("no_label_column.csv", "category,e0,e1\n" + "\n".join(f"c{i % 2},{i},{i}" for i in range(5)) + "\n")
    write("duplicate_headers.csv", "label,e0,e0\nc0,1,2\nc1,3,4\n")
    write("empty.csv", "")
    write("header_only.csv", GOOD_HEADER + "\n")
    write(
        "huge_column_count.csv",
        "label,"
        + ",".join(f"x{i}" for i in range(20000))
        + "\nc0,"
        + ",".join("1" for _ in range(19999))
        + ",oops\nc1,"
        + ",".join("2" for _ in range(20000))
        + "\n",
    )
    write("not_utf8.csv", b"label,e0,e1\nc0,1,2\n\xe9t\xe9,3,4\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.csv", f"{GOOD_HEADER}\n{good_rows()}\n")
    write("zip_named_csv.csv", buf.getvalue())
    write("no_embedding.csv", "label,text\nc0,hello\nc1,world\n")
    write("ambiguous_columns.csv", "label,price,emb_0,emb_1\nc0,9.5,1,2\nc1,3.0,3,4\n")
    write("duplicate_ids.csv", "id,label,e0,e1\na,c0,1,2\nb,c1,3,4\na,c0,5,6\n")
    write("only_unlabelled.csv", "label,e0,e1\n,1,2\n,3,4\n")
    # --- Parquet / NPZ --------------------------------------------------------------
    frame = pd.DataFrame({"label": ["c0", "c1", "c2"] * 4, "e0": np.arange(12.0), "e1": np.arange(12.0)})
    pbuf = io.BytesIO()
    frame.to_parquet(pbuf)
    write("truncated.parquet", pbuf.getvalue()[: len(pbuf.getvalue()) // 2])
    nbuf = io.BytesIO()
    np.savez(nbuf, embeddings=np.ones((12, 4)), label=np.array(["c0", "c1", "c2"] * 4))
    write("truncated.npz", nbuf.getvalue()[: len(nbuf.getvalue()) - 60])
    obuf = io.BytesIO()
    np.savez(obuf, embeddings=np.ones((2, 3)), label=np.array(["c0", None], dtype=object))
    write("object_array.npz", obuf.getvalue())
    # --- image ZIPs -----------------------------------------------------------------
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a/bomb.png", b"\0" * (4 * 2**20))  # 4 MiB of zeros compress about 1000:1
    write("zip_bomb.zip", zbuf.getvalue())
    tbuf = io.BytesIO()
    with zipfile.ZipFile(tbuf, "w") as z:
        z.writestr("cats/ok.png", b"\x89PNG not really")
        z.writestr("../../evil.png", b"payload")
    write("path_traversal.zip", tbuf.getvalue())
    write("not_a_zip.zip", b"PK\x03\x04 this is not really a zip archive")

    # --- model files ----------------------------------------------------------------
    class Payload:
        def __reduce__(self):
            return (print, ("this pickle payload must never run",))

    write("pickled_model.pth", pickle.dumps({"state_dict": Payload()}))
    # --- threshold files ------------------------------------------------------------
    base = {
        "schema": "embaug.threshold",
        "version": 1,
        "threshold": 0.5,
        "source": "manual",
        "method": "control",
        "class_names": ["c0", "c1", "c2"],
        "model": {"fingerprint": "sha256:00"},
        "validation": {"id_accuracy": None, "none_accuracy": None, "overall_accuracy": None},
        "created": "2026-11-21T20:00:00+00:00",
    }
    write("threshold_wrong_schema.json", json.dumps({**base, "schema": "something.else"}))
    write("threshold_out_of_range.json", json.dumps({**base, "threshold": 1.7}))
    write("threshold_unknown_labels.json", json.dumps({**base, "class_names": ["c0", "c1", "zebra"]}))
    write("threshold_not_json.json", "{threshold: 0.5")


if __name__ == "__main__":
    main()
