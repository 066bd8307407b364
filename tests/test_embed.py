"""Raw text / images -> embeddings: mechanics on tiny models, one real check per packaged model."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from embaug_core.data import embed as E
from embaug_core.errors import DataError, ModelFileError

WORDS = "the a cat dog sat on mat password reset forgot change weather paris tomorrow how do i my is what".split()


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A 2-layer BERT with random weights and a word-level vocabulary, saved as a model folder."""
    from embaug_core._compat import ensure_torchvision

    ensure_torchvision()
    from transformers import BertConfig, BertModel, BertTokenizerFast

    d = tmp_path_factory.mktemp("tiny_bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (d / "vocab.txt").write_text("\n".join(vocab))
    BertTokenizerFast(vocab_file=str(d / "vocab.txt")).save_pretrained(d)
    torch.manual_seed(0)  # test fixture only: the library itself never uses the global RNG
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    BertModel(cfg).eval().save_pretrained(d)
    return d


def _reference_paper_vector(folder, text):
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        hs = model(**tok([text], return_tensors="pt"), output_hidden_states=True).hidden_states
    return torch.cat([hs[-1][0].mean(0), hs[-2][0].mean(0)]).numpy()  # no padding: a plain mean


def test_paper_recipe_is_mean_of_last_two_layers_and_ignores_padding(tiny_bert):
    texts = ["the cat sat on the mat", "dog", "how do i reset my password"]
    cfg = E.TextEmbedConfig(model=str(tiny_bert), pooling="paper", batch_size=3, device="cpu")
    out = E.embed_texts(texts, cfg)
    assert out.shape == (3, 64) and out.dtype == np.float32
    for i, t in enumerate(texts):  # batched with padding == embedded alone
        np.testing.assert_allclose(out[i], _reference_paper_vector(tiny_bert, t), atol=1e-5)


def test_mean_recipe_batching_and_normalisation(tiny_bert):
    texts = ["the cat", "what is the weather in paris tomorrow", "a dog sat"]
    one = E.embed_texts(texts, E.TextEmbedConfig(model=str(tiny_bert), batch_size=1, device="cpu"))
    many = E.embed_texts(texts, E.TextEmbedConfig(model=str(tiny_bert), batch_size=8, device="cpu"))
    np.testing.assert_allclose(one, many, atol=1e-5)
    assert one.shape == (3, 32)
    assert not np.allclose(np.linalg.norm(one, axis=1), 1.0)  # no modules.json: not normalised
    normed = E.embed_texts(texts, E.TextEmbedConfig(model=str(tiny_bert), normalize=True, device="cpu"))
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), 1.0, atol=1e-5)


def test_truncation_to_max_length(tiny_bert):
    long = " ".join(["cat"] * 200)
    a = E.embed_texts([long], E.TextEmbedConfig(model=str(tiny_bert), max_length=8, device="cpu"))
    b = E.embed_texts([" ".join(["cat"] * 6)], E.TextEmbedConfig(model=str(tiny_bert), max_length=8, device="cpu"))
    np.testing.assert_allclose(a, b, atol=1e-5)  # [CLS] + 6 tokens + [SEP] either way


def test_table_concatenates_columns_and_keeps_sources(tiny_bert, tmp_path):
    frame = pd.DataFrame(
        {
            "sku": ["p1", "p2", "p3"],
            "title": ["the cat", "a dog", "the mat"],
            "description": ["cat sat on mat", "dog sat", "a mat"],
            "category": ["pets", "pets", "home"],
        }
    )
    frame.to_csv(tmp_path / "products.csv", index=False)
    cfg = E.TextEmbedConfig(model=str(tiny_bert), pooling="paper", device="cpu")
    ds = E.embed_text_table(
        tmp_path / "products.csv", text_cols=["title", "description"], label_col="category", id_col="sku", config=cfg
    )
    assert ds.dim == 128 and list(ds.ids) == ["p1", "p2", "p3"] and list(ds.labels) == ["pets", "pets", "home"]
    assert {"title", "description"} <= set(ds.extra.columns)
    np.testing.assert_allclose(ds.embeddings[:, :64], E.embed_texts(frame["title"], cfg), atol=1e-6)
    np.testing.assert_allclose(ds.embeddings[:, 64:], E.embed_texts(frame["description"], cfg), atol=1e-6)


def test_cache_makes_reruns_free(tiny_bert, tmp_path, monkeypatch):
    cache = E.EmbeddingCache(tmp_path / "cache")
    cfg = E.TextEmbedConfig(model=str(tiny_bert), device="cpu")
    first = E.embed_texts(["the cat", "a dog"], cfg, cache=cache)

    def no_model(*a, **k):
        raise AssertionError("the model was loaded although the result is cached")

    monkeypatch.setattr(E.text, "_load_text_model", no_model)
    np.testing.assert_array_equal(E.embed_texts(["the cat", "a dog"], cfg, cache=cache), first)
    with pytest.raises(AssertionError, match="cached"):
        E.embed_texts(
            ["the cat", "a dog"], E.TextEmbedConfig(model=str(tiny_bert), pooling="paper", device="cpu"), cache=cache
        )  # another recipe is another key


@pytest.mark.parametrize(
    "csv, cols, message",
    [
        ("title,label\nthe cat,a\n,b\n", ["title"], r"empty in 1 data row\(s\) \(2\)"),
        ("title,label\n,a\n,b\n", ["title"], "empty in every row"),
        ("title,label\nthe cat,a\n", ["name"], "no text column 'name'"),
        ("title,label\nthe cat,a\n", [], "at least one text column"),
    ],
)
def test_bad_text_tables(tiny_bert, csv, cols, message):
    with pytest.raises(DataError, match=message):
        E.embed_text_table(
            csv.encode(), text_cols=cols, name="t.csv", config=E.TextEmbedConfig(model=str(tiny_bert), device="cpu")
        )


def test_model_paths_that_are_not_models(tmp_path):
    with pytest.raises(ModelFileError, match="never downloads"):
        E.resolve_text_model("bert-base-uncased")
    with pytest.raises(ModelFileError, match="no config.json"):
        E.resolve_text_model(str(tmp_path))


def test_minilm_paraphrases_are_closer_than_unrelated_sentences():
    v = E.embed_texts(
        [
            "How do I reset my password?",
            "I forgot my password, how can I change it?",
            "What will the weather be like in Paris tomorrow?",
        ],
        E.TextEmbedConfig(device="cpu"),
    )
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)  # the folder asks for normalisation
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


# ------------------------------------------------------------------------------ images


def _png(color, size=(40, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


IMAGES = {
    "data/red/1.png": _png("red"),
    "data/red/2.png": _png((200, 0, 0)),
    "data/blue/1.png": _png("blue"),
    "data/blue/broken.jpg": b"not a jpeg",
    "data/blue/readme.txt": b"hello",
    "__MACOSX/._x": b"junk",
}


def test_read_images_from_zip_and_folder(tmp_path):
    items, skipped = E.read_images(_zip(IMAGES), name="x.zip")
    assert sorted((i.name, i.label) for i in items) == [
        ("blue/1.png", "blue"),
        ("blue/broken.jpg", "blue"),
        ("red/1.png", "red"),
        ("red/2.png", "red"),
    ]
    assert skipped == [("data/blue/readme.txt", "not an image file name")]
    for name, data in IMAGES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    folder_items, _ = E.read_images(tmp_path / "data")
    assert sorted(i.name for i in folder_items) == sorted(i.name for i in items)


def test_labels_csv_overrides_folders(tmp_path):
    (tmp_path / "labels.csv").write_text("file,label\nred/1.png,warm\n2.png,warm\nblue/1.png,cold\n")
    items, _ = E.read_images(_zip(IMAGES), labels_csv=tmp_path / "labels.csv")
    assert {i.name: i.label for i in items}["red/2.png"] == "warm"
    assert {i.name: i.label for i in items}["blue/1.png"] == "cold"


@pytest.mark.parametrize("name", ["../evil.png", "/etc/evil.png", "a/../../evil.png", "C:/evil.png"])
def test_zip_path_traversal_is_refused(name):
    with pytest.raises(DataError, match="unsafe path"):
        E.read_images(_zip({name: _png("red"), "ok/1.png": _png("red")}))


def test_zip_bombs_and_oversized_archives_are_refused():
    bomb = _zip({"a/zeros.png": b"\0" * (3 * 2**20)})  # 3 MiB of zeros compress about 1000:1
    with pytest.raises(DataError, match="ZIP bomb"):
        E.read_images(bomb)
    with pytest.raises(DataError, match="exceeds the limit"):
        E.read_images(_zip(IMAGES), limits=E.ZipLimits(max_total_bytes=100))
    with pytest.raises(DataError, match="per-file limit"):
        E.read_images(_zip(IMAGES), limits=E.ZipLimits(max_member_bytes=50))
    with pytest.raises(DataError, match="not a readable ZIP"):
        E.read_images(b"PK\x03\x04 truncated")


@pytest.fixture(scope="module")
def random_lite0():
    return E.ImageEmbedConfig(weights="random", device="cpu", batch_size=2)


def test_embed_images_skips_unreadable_files(random_lite0):
    ds, skipped = E.embed_image_source(_zip(IMAGES), config=random_lite0, name="x.zip")
    assert ds.dim == 1280 and ds.n_samples == 3
    assert sorted(ds.ids) == ["blue/1.png", "red/1.png", "red/2.png"]
    assert ("blue/broken.jpg", "not a readable image (UnidentifiedImageError)") in skipped
    assert ds.labels[list(ds.ids).index("red/2.png")] == "red"


def test_image_cache(random_lite0, tmp_path, monkeypatch):
    cache = E.EmbeddingCache(tmp_path)
    items, _ = E.read_images(_zip(IMAGES))
    a = E.embed_images(items, random_lite0, cache=cache)
    monkeypatch.setattr(E.images, "load_image_model", lambda *a, **k: (_ for _ in ()).throw(AssertionError("loaded")))
    b = E.embed_images(items, random_lite0, cache=cache)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]


def test_weights_files_load_by_name_or_in_order_and_never_unpickle(tmp_path):
    from embaug_core._compat import ensure_torchvision

    ensure_torchvision()
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    renamed = {f"_m.{i}": v for i, v in enumerate(model.state_dict().values())}  # other names, same order
    torch.save(renamed, tmp_path / "renamed.pth")
    cfg = E.ImageEmbedConfig(weights=str(tmp_path / "renamed.pth"), device="cpu")
    loaded, _ = E.load_image_model(cfg)
    first = next(iter(model.state_dict()))
    assert torch.equal(loaded.state_dict()[first], model.state_dict()[first])

    class Evil:
        def __reduce__(self):
            return (print, ("pickle payload ran",))

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"state_dict": Evil()}))
    with pytest.raises(ModelFileError, match="not a plain weights file"):
        E.load_image_model(E.ImageEmbedConfig(weights=str(tmp_path / "evil.pth"), device="cpu"))
    with pytest.raises(ModelFileError, match="no such weights file"):
        E.load_image_model(E.ImageEmbedConfig(weights=str(tmp_path / "missing.pth"), device="cpu"))
    with pytest.raises(ModelFileError, match="needs a weights file"):
        E.load_image_model(E.ImageEmbedConfig(model="resnet18", device="cpu"))
    with pytest.raises(ModelFileError, match="timm has no model"):
        E.load_image_model(E.ImageEmbedConfig(model="no_such_net", weights="random", device="cpu"))


def test_packaged_lite0_recognises_real_photos():
    """sklearn ships two photos: a flower (ImageNet 985 'daisy') and a Chinese temple (698 'palace')."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    model, transform = E.load_image_model(E.ImageEmbedConfig(device="cpu"))
    photos = load_sample_images()
    x = torch.stack([transform(Image.fromarray(a)) for a in photos.images])
    with torch.no_grad():
        top = model(x).topk(3).indices.tolist()
    names = [p.rsplit("/", 1)[-1] for p in photos.filenames]
    assert top[names.index("flower.jpg")][0] == 985
    assert 698 in top[names.index("china.jpg")]


def test_product_table_concatenates_text_and_image(tiny_bert, random_lite0, tmp_path):
    frame = pd.DataFrame(
        {
            "title": ["the cat", "a dog", "the mat"],
            "image": ["red/1.png", "2.png", "blue/1.png"],
            "category": ["a", "a", "b"],
        }
    )
    ds = E.embed_product_table(
        frame.to_csv(index=False).encode(),
        text_cols=["title"],
        image_col="image",
        images=_zip(IMAGES),
        label_col="category",
        name="p.csv",
        text_config=E.TextEmbedConfig(model=str(tiny_bert), device="cpu"),
        image_config=random_lite0,
    )
    assert ds.dim == 32 + 1280
    items, _ = E.read_images(_zip(IMAGES))
    feats, kept, _ = E.embed_images(items, random_lite0)
    row = [items[i].name for i in kept].index("red/2.png")
    np.testing.assert_allclose(ds.embeddings[1, 32:], feats[row], atol=1e-6)
    bad = frame.assign(image=["red/1.png", "blue/broken.jpg", "nope.png"])
    with pytest.raises(DataError, match=r"data row 2: image 'blue/broken.jpg': not a readable image"):
        E.embed_product_table(
            bad.to_csv(index=False).encode(),
            text_cols=["title"],
            image_col="image",
            images=_zip(IMAGES),
            name="p.csv",
            text_config=E.TextEmbedConfig(model=str(tiny_bert), device="cpu"),
            image_config=random_lite0,
        )


def test_projection_for_previews():
    x = np.random.default_rng(0).normal(size=(50, 8))
    from embaug_core.data.projection import project_2d

    rows, pts = project_2d(x, max_rows=20)
    assert pts.shape == (20, 2) and len(rows) == 20 and np.all(np.diff(rows) > 0)
