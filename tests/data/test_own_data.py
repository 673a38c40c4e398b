"""Bring your own data: ``imagefolder``, ``hf`` (local), ``fashion-mnist`` and the presets, on tiny data made here.

Every data set is built in ``tmp_path`` (colour and grayscale, odd sizes, a
corrupt image, an empty class folder, missing and ambiguous columns); nothing
touches a network. Each image is a flat colour that encodes its class, so the
tests can check that images and labels stay paired through decoding, resizing
and the cache.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cganzoo import DataError, LabelError, create_dataset
from cganzoo.cli import main
from cganzoo.data import ImageSplits, check_memory, check_splits, idx_bytes

#: Class -> RGB colour of its images (far apart, so resizing cannot confuse them).
COLOURS = {"apple": (220, 30, 30), "leaf": (30, 200, 40), "sky": (40, 60, 230)}


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    """Decoded-image caches go to this test's directory, never the user's."""
    monkeypatch.setenv("CGANZOO_DATA_DIR", str(tmp_path / "cache"))


def make_folder(root: Path, per_class: int = 5, mode: str = "RGB", sizes=((21, 17), (40, 40), (33, 50))) -> Path:
    """Class folders of flat-colour images in several sizes and formats, plus a stray text file."""
    for k, (name, colour) in enumerate(COLOURS.items()):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            image = Image.new("RGB", sizes[i % len(sizes)], colour).convert(mode)
            image.save(folder / f"{i}.{('png', 'jpg', 'bmp')[i % 3]}")
        (folder / "README.txt").write_text("not an image")
    return root


def colour_labels(images: torch.Tensor) -> torch.Tensor:
    """The class each flat-colour image shows (by its strongest channel, or its grey level)."""
    means = images.float().mean(dim=(2, 3))
    if images.shape[1] == 1:  # grey levels of the three colours under ITU-R 601-2 luma: 89, 128, 83 -> sort by level
        levels = torch.tensor([0.299 * r + 0.587 * g + 0.114 * b for r, g, b in COLOURS.values()])
        return (means - levels).abs().argmin(dim=1)
    return means.argmax(dim=1)


# --- imagefolder ---------------------------------------------------------------------------


def test_colour_folder_of_odd_sizes_is_resized_and_paired(tmp_path):
    root = make_folder(tmp_path / "photos", per_class=10)
    lines = []
    data = create_dataset("imagefolder", data_dir=root, img_size=32, log=lines.append)

    assert data.info.class_names == ("apple", "leaf", "sky")
    assert data.info.shape == (3, 32, 32) and data.images.dtype == torch.uint8
    assert data.images.shape[0] + data.test_images.shape[0] == 30
    assert torch.bincount(data.test_labels).tolist() == [1, 1, 1]  # 10 % of each class held out
    assert torch.equal(colour_labels(data.images), data.labels)
    assert torch.equal(colour_labels(data.test_images), data.test_labels)
    assert lines[0] == f"imagefolder: decoding 30 images (3 classes) from {root} as 3x32x32"
    assert lines[1].startswith("imagefolder: cached at ")


def test_warm_cache_answers_and_an_edited_folder_is_decoded_again(tmp_path):
    root = make_folder(tmp_path / "photos")
    first = create_dataset("imagefolder", data_dir=root, img_size=28, log=lambda line: None)
    lines = []
    second = create_dataset("imagefolder", data_dir=root, img_size=28, log=lines.append)
    assert lines == []
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)

    Image.new("RGB", (9, 9), COLOURS["sky"]).save(root / "sky" / "new.png")
    third = create_dataset("imagefolder", data_dir=root, img_size=28, log=lines.append)
    assert lines[0].startswith("imagefolder: decoding 16 images")
    assert third.images.shape[0] + third.test_images.shape[0] == 16


def test_grayscale_folder_has_one_channel_unless_asked_for_three(tmp_path):
    root = make_folder(tmp_path / "grey", mode="L", sizes=((28, 28),))
    data = create_dataset("imagefolder", data_dir=root, log=lambda line: None)
    assert data.info.shape == (1, 28, 28)  # one common size: kept, no img_size needed
    assert torch.equal(colour_labels(data.images), data.labels)
    rgb = create_dataset("imagefolder", {"channels": 3}, data_dir=root, log=lambda line: None)
    assert rgb.info.shape == (3, 28, 28)
    assert torch.equal(rgb.images[:, 0], rgb.images[:, 2])  # grey stays grey


def test_a_test_folder_is_the_test_split(tmp_path):
    root = make_folder(tmp_path / "data", per_class=4)
    make_folder(root / "test", per_class=2)
    data = create_dataset("imagefolder", data_dir=root, img_size=32, log=lambda line: None)
    assert data.images.shape[0] == 12 and data.test_images.shape[0] == 6  # nothing held out
    assert torch.equal(colour_labels(data.test_images), data.test_labels)
    (root / "test" / "rock").mkdir()
    Image.new("RGB", (8, 8)).save(root / "test" / "rock" / "r.png")
    with pytest.raises(DataError, match=r"test folder .*rock' names class 'rock', which has no training folder"):
        create_dataset("imagefolder", data_dir=root, img_size=32, log=lambda line: None)


def test_corrupt_image_is_named(tmp_path):
    root = make_folder(tmp_path / "photos")
    bad = root / "leaf" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(DataError) as caught:
        create_dataset("imagefolder", data_dir=root, img_size=32, log=lambda line: None)
    assert str(caught.value).startswith(f"imagefolder: cannot decode image {bad}: ")
    assert "\n" not in str(caught.value)


def test_truncated_image_is_named(tmp_path):
    root = make_folder(tmp_path / "photos")
    good = root / "sky" / "0.png"
    noisy = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noisy).save(good)
    good.write_bytes(good.read_bytes()[:300])  # the header survives, the pixels do not
    with pytest.raises(DataError, match=f"^imagefolder: cannot decode image {good}: "):
        create_dataset("imagefolder", data_dir=root, img_size=32, log=lambda line: None)


def test_class_folder_without_images_is_refused(tmp_path):
    root = make_folder(tmp_path / "photos")
    (root / "zebra").mkdir()
    (root / "zebra" / "notes.txt").write_text("no pictures yet")
    with pytest.raises(DataError, match=r"^imagefolder: class folder '.*zebra' holds no images \(files Pillow reads"):
        create_dataset("imagefolder", data_dir=root, img_size=32, log=lambda line: None)


@pytest.mark.parametrize("case", ["missing", "empty", "no-dir-given"])
def test_a_folder_without_classes_is_refused(tmp_path, case):
    root = tmp_path / "nothing"
    if case == "empty":
        root.mkdir()
    data_dir = None if case == "no-dir-given" else root
    expected = {"missing": "is not a directory", "empty": "holds no class folders",
                "no-dir-given": "needs a folder of class subfolders: --data-dir DIR"}[case]
    with pytest.raises(DataError, match=expected):
        create_dataset("imagefolder", data_dir=data_dir, img_size=32, log=lambda line: None)


def test_mixed_sizes_without_a_size_are_one_line(tmp_path):
    root = make_folder(tmp_path / "photos")
    with pytest.raises(DataError, match=r"^imagefolder: images come in 3 sizes .*--dataset-param size=N"):
        create_dataset("imagefolder", data_dir=root, log=lambda line: None)
    data = create_dataset("imagefolder", {"size": 20}, data_dir=root, img_size=64, log=lambda line: None)
    assert data.info.shape == (3, 20, 20)  # the size parameter wins over the run's image size


def test_memory_estimate_refuses_before_decoding(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "photos")
    monkeypatch.setattr("cganzoo.data.splits.available_memory_bytes", lambda: 10_000)
    monkeypatch.setattr("cganzoo_datasets.imagefolder.decode", lambda *a, **k: pytest.fail("decoded before the estimate"))
    with pytest.raises(DataError) as caught:
        create_dataset("imagefolder", data_dir=root, img_size=64, log=lambda line: None)
    assert str(caught.value) == (
        "imagefolder: 15 images of 3x64x64 need 180.0 KiB as uint8, more than 50% of the 9.8 KiB of memory "
        "available (4.9 KiB); lower the size (--dataset-param size=N or --img-size), use fewer images, or free memory")


def test_check_memory_passes_what_fits():
    assert check_memory("x", 60000, (1, 28, 28), available=2**30) == 60000 * 784


# --- splits checks (any data set) -------------------------------------------------------------


def _splits(labels, names=("a", "b", "c")) -> ImageSplits:
    labels = torch.tensor(labels)
    return ImageSplits(torch.zeros(len(labels), 1, 4, 4, dtype=torch.uint8), labels, None, None, names)


def test_a_class_without_training_images_is_named():
    with pytest.raises(DataError, match=r"^x: class 'b' \(label 1\) has no training images"):
        check_splits("x", _splits([0, 2, 2]))


def test_labels_outside_the_classes_are_named():
    with pytest.raises(LabelError, match=r"x train split: label 3 at position 1 is outside \[0, 3\)"):
        check_splits("x", _splits([0, 3, 1, 2]))


def test_repeated_class_names_are_refused():
    with pytest.raises(DataError, match="repeated: 'a'"):
        check_splits("x", _splits([0, 1, 2], names=("a", "b", "a")))


# --- hf, local ------------------------------------------------------------------------------


def _hf_split(n: int, mode: str = "RGB", size=(12, 10), extra_image: bool = False, label_feature=None):
    import datasets

    names = list(COLOURS)
    images = [Image.new("RGB", size, COLOURS[names[i % 3]]).convert(mode) for i in range(n)]
    columns = {"picture": images, "kind": [i % 3 for i in range(n)], "caption": [f"#{i}" for i in range(n)]}
    features = {"picture": datasets.Image(), "kind": label_feature or datasets.ClassLabel(names=names),
                "caption": datasets.Value("string")}
    if extra_image:
        columns["thumbnail"], features["thumbnail"] = images, datasets.Image()
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


def test_hf_save_to_disk_copy_with_detected_columns(tmp_path):
    import datasets

    path = tmp_path / "saved"
    datasets.DatasetDict({"train": _hf_split(9), "test": _hf_split(6, size=(20, 30))}).save_to_disk(str(path))
    lines = []
    data = create_dataset("hf", {"path": str(path)}, img_size=16, log=lines.append)
    assert data.info.class_names == ("apple", "leaf", "sky")  # from the ClassLabel feature
    assert data.info.shape == (3, 16, 16) and data.images.shape[0] == 9 and data.test_images.shape[0] == 6
    assert torch.equal(colour_labels(data.images), data.labels)
    assert torch.equal(colour_labels(data.test_images), data.test_labels)
    assert lines[0] == f"hf: decoding 15 images (3 classes) from save_to_disk copy {path} as 3x16x16"
    again = []
    create_dataset("hf", data_dir=path, img_size=16, log=again.append)  # --data-dir works as the path too
    assert again == []  # the decoded cache answered


def test_hf_parquet_file_holds_out_a_test_fraction(tmp_path):
    path = tmp_path / "train.parquet"
    _hf_split(30, mode="L", size=(28, 28)).to_parquet(str(path))
    data = create_dataset("hf", {"path": str(path), "test_fraction": 0.2}, log=lambda line: None)
    assert data.info.shape == (1, 28, 28)
    assert data.images.shape[0] == 24 and torch.bincount(data.test_labels).tolist() == [2, 2, 2]
    assert torch.equal(colour_labels(data.images), data.labels)


def test_hf_missing_column_lists_the_columns(tmp_path):
    path = tmp_path / "saved"
    _hf_split(6).save_to_disk(str(path))
    with pytest.raises(DataError) as caught:
        create_dataset("hf", {"path": str(path), "label_column": "label"}, img_size=16, log=lambda line: None)
    assert str(caught.value) == (f"hf: save_to_disk copy {path} has no column 'label'; columns: picture (Image), "
                                 "kind (ClassLabel), caption (Value string)")


def test_hf_ambiguous_image_column_asks_for_a_name(tmp_path):
    path = tmp_path / "saved"
    _hf_split(6, extra_image=True).save_to_disk(str(path))
    with pytest.raises(DataError, match=r"has 2 image \(Image feature\) columns \(picture, thumbnail\); columns: .*"
                                        r"--dataset-param image_column=NAME$"):
        create_dataset("hf", {"path": str(path)}, img_size=16, log=lambda line: None)
    data = create_dataset("hf", {"path": str(path), "image_column": "thumbnail"}, img_size=16, log=lambda line: None)
    assert data.images.shape[0] + data.test_images.shape[0] == 6  # one image of each class held out
    assert torch.bincount(data.test_labels).tolist() == [1, 1, 1]


def test_hf_plain_integer_labels_need_a_named_column(tmp_path):
    import datasets

    path = tmp_path / "saved"
    _hf_split(6, label_feature=datasets.Value("int64")).save_to_disk(str(path))
    with pytest.raises(DataError, match=r"has no class-label \(ClassLabel feature\) column; columns: picture "
                                        r"\(Image\), kind \(Value int64\), caption \(Value string\); name one with "
                                        r"--dataset-param label_column=NAME"):
        create_dataset("hf", {"path": str(path)}, img_size=16, log=lambda line: None)
    data = create_dataset("hf", {"path": str(path), "label_column": "kind", "test_fraction": 0.0},
                          img_size=16, log=lambda line: None)
    assert data.info.class_names == ("0", "1", "2") and data.test_images is None
    with pytest.raises(DataError, match="holds caption \\(Value string\\), not integer class labels"):
        create_dataset("hf", {"path": str(path), "label_column": "caption"}, img_size=16, log=lambda line: None)


def test_hf_corrupt_row_is_named(tmp_path):
    import datasets

    split = _hf_split(6).cast_column("picture", datasets.Image(decode=False))
    rows = split.to_dict()
    rows["picture"][4] = {"bytes": b"GIF89a-not-really", "path": None}
    path = tmp_path / "saved"
    datasets.Dataset.from_dict(rows, features=split.features).save_to_disk(str(path))
    with pytest.raises(DataError, match=f"^hf: cannot decode image train row 4 of save_to_disk copy {path}: "):
        create_dataset("hf", {"path": str(path)}, img_size=16, log=lambda line: None)


def test_preset_checks_the_expected_sizes_of_a_local_copy(tmp_path):
    import datasets

    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=list("abc"))})
    tiny = datasets.Dataset.from_dict({"img": [Image.new("RGB", (32, 32))] * 3, "label": [0, 1, 2]},
                                      features=features)
    datasets.DatasetDict({"train": tiny, "test": tiny}).save_to_disk(str(tmp_path / "cifar"))
    with pytest.raises(DataError) as caught:
        create_dataset("cifar10", data_dir=tmp_path / "cifar", img_size=32, log=lambda line: None)
    assert str(caught.value) == (f"cifar10: save_to_disk copy {tmp_path / 'cifar'} is not the expected data: "
                                 "train 3 (expected 50000); test 3 (expected 10000); num_classes 3 (expected 10)")


def test_unknown_hub_id_is_one_line_when_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("datasets.config.HF_HUB_OFFLINE", True, raising=False)
    with pytest.raises(DataError, match=r"^hf: cannot open 'nobody/no-such-set': ") as caught:
        create_dataset("hf", {"path": "nobody/no-such-set"}, img_size=16, log=lambda line: None)
    assert "\n" not in str(caught.value)


# --- fashion-mnist ------------------------------------------------------------------------------


NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture
def tiny_fashion(monkeypatch):
    from cganzoo_datasets import fashion_mnist

    rng = np.random.default_rng(5)
    arrays = {NAMES[0]: rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), NAMES[1]: np.arange(20, dtype=np.uint8) % 10,
              NAMES[2]: rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), NAMES[3]: np.arange(10, dtype=np.uint8)}
    monkeypatch.setattr(fashion_mnist, "EXPECTED_MD5", {n: hashlib.md5(idx_bytes(a)).hexdigest()
                                                        for n, a in arrays.items()})
    monkeypatch.setattr(fashion_mnist, "probe_hub", lambda repo: (_ for _ in ()).throw(DataError("offline")))
    return arrays


def test_fashion_mnist_from_the_download_location_then_the_cache(tmp_path, tiny_fashion):
    from cganzoo_datasets import fashion_mnist

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, array in tiny_fashion.items():
        (mirror / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array), compresslevel=1))
    lines = []
    splits = fashion_mnist.load_fashion_mnist(data_dir=tmp_path / "none", cache_dir=tmp_path / "c", log=lines.append,
                                              base_url=mirror.as_uri())
    assert splits.class_names[0] == "T-shirt/top" and splits.class_names[-1] == "Ankle boot"
    assert splits.train_images.shape == (20, 1, 28, 28)
    np.testing.assert_array_equal(splits.test_images[:, 0].numpy(), tiny_fashion[NAMES[2]])
    assert lines[1] == f"fashion-mnist: hub {fashion_mnist.HUB_REPO} unavailable: offline; trying next source"
    assert lines[2] == f"fashion-mnist: verified data from download from {mirror.as_uri()}"
    again = []
    fashion_mnist.load_fashion_mnist(data_dir=tmp_path / "none", cache_dir=tmp_path / "c", log=again.append,
                                     base_url="file:///nowhere")
    assert again == []


def test_fashion_mnist_recompressed_hand_placed_files_pass_and_a_damaged_one_is_named(tmp_path, tiny_fashion):
    from cganzoo_datasets import fashion_mnist

    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, array in tiny_fashion.items():
        (raw / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array), compresslevel=9))
    data = create_dataset("fashion-mnist", data_dir=tmp_path, log=lambda line: None)
    assert data.info.shape == (1, 28, 28) and data.info.judge_recipe["min_test_accuracy"] < 0.99

    damaged = tiny_fashion[NAMES[1]].copy()
    damaged[0] = 9
    (raw / f"{NAMES[1]}.gz").write_bytes(gzip.compress(idx_bytes(damaged)))
    lines = []
    with pytest.raises(DataError) as caught:
        fashion_mnist.load_fashion_mnist(data_dir=tmp_path, cache_dir=tmp_path / "other", log=lines.append,
                                         base_url="file:///nowhere")
    assert f"{raw / NAMES[1]}.gz failed its checksum" in lines[0]
    assert "\n" not in str(caught.value)  # one line; the list of sources is in the details (--verbose)
    assert "put the four IDX files" in str(caught.value) and "FashionMNIST/raw" in str(caught.value)
    assert "put these four files in" in caught.value.details


# --- end to end through the command line -----------------------------------------------------


def test_cdcgan_trains_samples_and_evaluates_on_a_colour_folder(tmp_path, capsys):
    root = make_folder(tmp_path / "photos", per_class=8)
    out = tmp_path / "run"
    code = main(["run", "cdcgan", "--dataset", "imagefolder", "--data-dir", str(root), "--max-steps", "4",
                 "--batch-size", "8", "--img-size", "32", "--device", "cpu", "--out", str(out), "--no-progress"])
    assert code == 0
    record = json.loads((out / "config.json").read_text())
    assert record["dataset"]["class_names"] == ["apple", "leaf", "sky"]
    assert record["dataset"]["shape"] == [3, 32, 32]
    grid = Image.open(out / "samples" / "step_4.png")
    assert grid.mode == "RGB"
    capsys.readouterr()
    assert main(["sample", str(out), "--labels", "sky,apple", "--n", "3", "-o", str(tmp_path / "g.png")]) == 0
    grid = Image.open(tmp_path / "g.png")
    assert grid.mode == "RGB"
    unlabelled_width = 2 + 3 * (32 + 2)
    assert grid.size[1] == 2 + 2 * (32 + 2) and grid.size[0] > unlabelled_width  # a column of class names
    names_column = np.asarray(grid)[:, : grid.size[0] - unlabelled_width]
    assert names_column.max() >= 200 and (names_column == 0).mean() > 0.5  # light text on black


def test_save_grid_labels_each_row_and_checks_the_count(tmp_path):
    from cganzoo.components.sampling import save_grid

    images = torch.rand(6, 1, 28, 28) * 2 - 1
    plain = Image.open(save_grid(images, tmp_path / "plain.png", nrow=3))
    named = Image.open(save_grid(images, tmp_path / "named.png", nrow=3, class_names=["T-shirt/top", "Ankle boot"]))
    assert named.mode == "L" and named.size[1] == plain.size[1] and named.size[0] > plain.size[0]
    right = np.asarray(named)[:, named.size[0] - plain.size[0]:]
    assert np.abs(right.astype(int) - np.asarray(plain.convert("L")).astype(int)).max() <= 1  # images untouched
    with pytest.raises(ValueError, match="class_names holds 1 names for a grid of 2 rows"):
        save_grid(images, tmp_path / "x.png", nrow=3, class_names=["one"])
