"""Images decode as an image viewer shows them over black, or are refused in one line naming the file.

Every image is built here with Pillow and numpy: alpha in every mode that
carries it, 16-bit, 32-bit integer and float images, EXIF orientation, and
images over Pillow's decompression-bomb limit (simulated by lowering
``PIL.Image.MAX_IMAGE_PIXELS`` rather than writing gigapixel files).
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from cganzoo import DataError, create_dataset
from cganzoo.cli import main
from cganzoo.data import ImageRef, choose_channels, choose_size, decode, probe


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    """Decoded-image caches go to this test's directory, never the user's."""
    monkeypatch.setenv("CGANZOO_DATA_DIR", str(tmp_path / "cache"))


def digit(size: int = 28) -> np.ndarray:
    """uint8 ``(size, size)`` coverage of a stroke figure: 0 outside, 255 on the strokes, soft edges between."""
    yy, xx = np.mgrid[:size, :size] / (size - 1)
    ring = np.abs(np.hypot(yy - 0.5, xx - 0.5) - 0.3)
    bar = np.abs(xx - 0.5) + (np.abs(yy - 0.5) > 0.35)
    return np.clip(255 * (1.0 - np.minimum(ring, bar) / 0.08), 0, 255).astype(np.uint8)


def decoded(path: Path, channels: int | None = None) -> np.ndarray:
    """``path`` through probe and decode, at its own size: uint8 ``(C, H, W)``."""
    refs = [ImageRef(str(path), path=path)]
    headers = probe("test", refs)
    c = choose_channels([mode for mode, _ in headers], channels)
    size = choose_size("test", [s for _, s in headers], None, None)
    return decode("test", refs, c, size)[0].numpy()


def png(width: int, height: int, colour_type: int, depth: int, raw: bytes, extra: bytes = b"") -> bytes:
    """A PNG written by hand, for pixel formats Pillow cannot write (16-bit colour)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = len(raw) // height
    scanlines = b"".join(b"\x00" + raw[y * row:(y + 1) * row] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(scanlines))
            + chunk(b"IEND", b""))


# --- the examples ----------------------------------------------------------------------------


def test_white_strokes_drawn_in_alpha_decode_as_white_on_black(tmp_path):
    alpha = digit()
    rgba = np.dstack([np.full((28, 28, 3), 255, np.uint8), alpha])
    Image.fromarray(rgba).save(tmp_path / "seven.png")
    colour = decoded(tmp_path / "seven.png")
    assert colour.shape == (3, 28, 28)
    for channel in colour:
        assert np.array_equal(channel, alpha)  # transparent -> black, opaque white -> white, soft edges between
    assert np.array_equal(decoded(tmp_path / "seven.png", channels=1)[0], alpha)


def test_a_folder_of_alpha_digits_trains_on_white_on_black(tmp_path):
    root = tmp_path / "digits"
    alpha = digit()
    for name, figure in (("ring", alpha), ("blank", np.zeros_like(alpha))):
        (root / name).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.dstack([np.full((28, 28, 3), 255, np.uint8), figure])).save(root / name / f"{i}.png")
    data = create_dataset("imagefolder", data_dir=root, img_size=28, log=lambda line: None)
    ring = data.images[data.labels == 1]
    assert torch.equal(ring[:, 0], torch.from_numpy(alpha).expand_as(ring[:, 0]))
    assert int(data.images[data.labels == 0].max()) == 0  # fully transparent: black, not white


def test_16_bit_grayscale_gradient_is_scaled_not_clipped_to_binary(tmp_path):
    gradient = np.linspace(0, 65535, 64 * 64).round().astype(np.uint16).reshape(64, 64)
    Image.fromarray(gradient).save(tmp_path / "depth.png")
    assert Image.open(tmp_path / "depth.png").mode == "I;16"
    out = decoded(tmp_path / "depth.png")
    assert out.shape == (1, 64, 64)
    assert np.array_equal(out[0], np.rint(gradient / 257).astype(np.uint8))
    assert len(np.unique(out)) == 256


@pytest.mark.parametrize(("side", "pixels"), [(40, "1,600"), (100, "10,000")])  # Pillow warns / raises
def test_an_image_over_pillows_limit_is_one_line_naming_the_file(tmp_path, monkeypatch, side, pixels):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    root = tmp_path / "photos"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        Image.new("RGB", (20, 20), "white").save(root / name / "small.png")
    huge = root / "dog" / "huge.png"
    Image.new("RGB", (side, side), "white").save(huge)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not escape either
        with pytest.raises(DataError) as caught:
            create_dataset("imagefolder", data_dir=root, img_size=28, log=lambda line: None)
    message = str(caught.value)
    assert message.startswith(f"imagefolder: cannot decode image {huge}: {pixels} pixels")
    assert "more than Pillow's limit of 1,000" in message and "shrink it" in message and "\n" not in message
    assert (f"({side}x{side})" in message) == (side == 40)  # above twice the limit Pillow refuses before the size


def test_a_huge_image_through_the_cli_is_one_line_and_no_raw_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    root = tmp_path / "photos"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 20), "white" if name == "cat" else "black").save(root / name / f"{i}.png")
    Image.new("RGB", (40, 40)).save(root / "cat" / "huge.png")
    code = main(["run", "mlp-cgan", "--dataset", "imagefolder", "--data-dir", str(root), "--max-steps", "1",
                 "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0
    assert f"cannot decode image {root / 'cat' / 'huge.png'}: 1,600 pixels (40x40)" in err
    assert "DecompressionBombWarning" not in err and "Traceback" not in err


def test_a_raised_pixel_limit_lets_a_trusted_huge_image_through(tmp_path, monkeypatch):
    Image.new("L", (40, 30), 200).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(DataError, match="1,200 pixels"):
        decoded(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert decoded(tmp_path / "big.png").shape == (1, 30, 40)


# --- alpha in every mode ---------------------------------------------------------------------


def test_half_transparent_colour_is_composited_onto_black(tmp_path):
    Image.new("RGBA", (4, 4), (200, 100, 50, 128)).save(tmp_path / "half.png")
    assert decoded(tmp_path / "half.png")[:, 0, 0].tolist() == [100, 50, 25]


def test_grey_with_alpha_is_one_channel_composited(tmp_path):
    alpha = digit(16)
    Image.fromarray(np.dstack([np.full((16, 16), 200, np.uint8), alpha])).save(tmp_path / "la.png")
    assert Image.open(tmp_path / "la.png").mode == "LA"
    out = decoded(tmp_path / "la.png")
    assert out.shape == (1, 16, 16)
    assert np.array_equal(out[0], (200 * alpha.astype(int) + 127) // 255)


@pytest.mark.parametrize("fmt", ["png", "gif"])
def test_palette_with_a_transparent_index_shows_black_there(tmp_path, fmt):
    image = Image.new("P", (8, 8), 1)
    image.putpalette([255, 255, 255, 250, 10, 10])
    for x in range(4):
        image.putpixel((x, 0), 0)  # index 0 (white) is the transparent one
    image.save(tmp_path / f"p.{fmt}", transparency=0)
    out = decoded(tmp_path / f"p.{fmt}")
    assert out[:, 0, :4].max() == 0
    assert out[:, 5, 5].tolist() == [250, 10, 10]


def test_palette_with_alpha_entries_is_composited(tmp_path):
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 255, 255], rawmode="RGB")
    image.info["transparency"] = bytes([64])  # tRNS: palette entry 0 at alpha 64
    image.save(tmp_path / "trns.png")
    assert decoded(tmp_path / "trns.png")[:, 0, 0].tolist() == [64, 64, 64]


def test_palette_alpha_image_is_composited(tmp_path):
    image = Image.new("PA", (4, 4))
    image.putpalette([255, 255, 255, 0, 0, 255])
    image.putdata([(0, 255), (0, 0), (1, 128), (1, 255)] * 4)
    image.save(tmp_path / "pa.tif")
    assert Image.open(tmp_path / "pa.tif").mode == "PA"
    out = decoded(tmp_path / "pa.tif")
    assert out[:, 0, :4].T.tolist() == [[255, 255, 255], [0, 0, 0], [0, 0, 128], [0, 0, 255]]


@pytest.mark.parametrize(("mode", "key", "kept"), [("L", 90, [200, 200, 200]), ("RGB", (90, 90, 90), [200, 0, 0]),
                                                  ("I;16", 9000, [128, 128, 128])])
def test_a_colour_key_transparency_is_black(tmp_path, mode, key, kept):
    if mode == "I;16":
        image = Image.fromarray(np.array([[9000, 32896]], dtype=np.uint16))
    else:
        image = Image.new(mode, (2, 1), key)
        image.putpixel((1, 0), 200 if mode == "L" else (200, 0, 0))
    image.save(tmp_path / "key.png", transparency=key)
    out = decoded(tmp_path / "key.png", channels=3)
    assert out[:, 0, 0].tolist() == [0, 0, 0]
    assert out[:, 0, 1].tolist() == kept


def test_16_bit_colour_and_alpha_pngs_keep_their_range(tmp_path):
    rgb = np.array([[[65535, 0, 32896], [257, 514, 771]]], dtype=">u2")
    (tmp_path / "rgb16.png").write_bytes(png(2, 1, 2, 16, rgb.tobytes()))
    assert decoded(tmp_path / "rgb16.png")[:, 0, :].T.tolist() == [[255, 0, 128], [1, 2, 3]]
    rgba = np.array([[[65535, 65535, 65535, 32896], [65535, 0, 0, 0]]], dtype=">u2")
    (tmp_path / "rgba16.png").write_bytes(png(2, 1, 6, 16, rgba.tobytes()))
    assert decoded(tmp_path / "rgba16.png")[:, 0, :].T.tolist() == [[128, 128, 128], [0, 0, 0]]
    grey_alpha = np.array([[[65535, 65535], [65535, 0]]], dtype=">u2")
    (tmp_path / "la16.png").write_bytes(png(2, 1, 4, 16, grey_alpha.tobytes()))
    assert decoded(tmp_path / "la16.png")[0, 0].tolist() == [255, 0]


RAMP = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10  # 0..230
#: What the ramp in every band shows, by mode (modes whose colour transforms are Pillow's own: any uint8 result).
SHOWN = {"L": RAMP, "RGB": RAMP, "RGBX": RAMP, "F": RAMP,
         "LA": (RAMP.astype(int) ** 2 + 127) // 255, "RGBA": (RAMP.astype(int) ** 2 + 127) // 255,  # over black
         "La": RAMP, "RGBa": RAMP,  # premultiplied: the stored colour is what shows over black
         **{m: np.rint(RAMP / 257) for m in ("I", "I;16", "I;16B", "I;16L", "I;16N")}}


@pytest.mark.parametrize("mode", Image.MODES)
def test_every_pillow_mode_decodes_as_shown_over_black(monkeypatch, mode):
    """Also the modes no writer here makes (premultiplied La/RGBa...), handed over as a Pillow plugin would."""
    bands = len(Image.new(mode, (1, 1)).getbands())
    if mode in ("F", "I", "I;16"):
        image = Image.fromarray(RAMP.astype({"F": np.float32, "I": np.int32, "I;16": np.uint16}[mode]))
    elif mode.startswith("I;16"):
        image = Image.frombytes(mode, (6, 4), RAMP.astype(">u2" if mode == "I;16B" else "=u2").tobytes())
    elif mode == "1":
        image = Image.fromarray(RAMP > 100)
    else:
        image = Image.frombytes(mode, (6, 4), np.repeat(RAMP[..., None], bands, axis=2).tobytes())
    assert image.mode == mode
    monkeypatch.setattr(Image, "open", lambda stream: image)
    out = decode("test", [ImageRef(f"in-memory {mode}", data=b"")], 3, (4, 6))
    assert out.shape == (1, 3, 4, 6) and out.dtype == torch.uint8
    if mode in SHOWN:
        for channel in out[0]:
            assert np.array_equal(channel.numpy(), SHOWN[mode])
    if mode == "1":
        assert np.array_equal(out[0, 0].numpy(), np.where(RAMP > 100, 255, 0))


# --- bit depth -------------------------------------------------------------------------------


def test_big_endian_16_bit_tiff_is_scaled(tmp_path):
    values = np.array([[0, 257, 32896, 65535]], dtype=">u2")
    Image.frombytes("I;16B", (4, 1), values.tobytes()).save(tmp_path / "be.tif")
    assert Image.open(tmp_path / "be.tif").mode == "I;16B"
    assert decoded(tmp_path / "be.tif")[0, 0].tolist() == [0, 1, 128, 255]


def test_32_bit_integers_within_16_bits_are_read_as_16_bit(tmp_path):
    Image.fromarray(np.array([[0, 257, 60000, 65535]], dtype=np.int32)).save(tmp_path / "i.tif")
    assert Image.open(tmp_path / "i.tif").mode == "I"
    assert decoded(tmp_path / "i.tif")[0, 0].tolist() == [0, 1, 233, 255]


@pytest.mark.parametrize("values", [[-5, 100], [0, 70000]])
def test_32_bit_integers_beyond_16_bits_are_refused_with_their_range(tmp_path, values):
    path = tmp_path / "i.tif"
    Image.fromarray(np.array([values], dtype=np.int32)).save(path)
    with pytest.raises(DataError, match=rf"^test: cannot decode image {path}: 32-bit integer pixels range from "
                                        rf"{values[0]} to {values[1]}, outside 0\.\.65535 .*8- or 16-bit$"):
        decoded(path)


@pytest.mark.parametrize(("values", "shown"), [([0.0, 0.5, 1.0], [0, 128, 255]), ([0.0, 2.0, 254.6], [0, 2, 255])])
def test_float_images_in_0_1_or_0_255_are_scaled(tmp_path, values, shown):
    Image.fromarray(np.array([values], dtype=np.float32)).save(tmp_path / "f.tif")
    assert Image.open(tmp_path / "f.tif").mode == "F"
    assert decoded(tmp_path / "f.tif")[0, 0].tolist() == shown


@pytest.mark.parametrize(("values", "found"), [([-0.5, 0.5], "range from -0.5 to 0.5"),
                                               ([0.0, 300.0], "range from 0 to 300"),
                                               ([0.0, float("nan")], "include NaN or infinity")])
def test_float_images_outside_both_ranges_are_refused_with_the_range(tmp_path, values, found):
    path = tmp_path / "f.tif"
    Image.fromarray(np.array([values], dtype=np.float32)).save(path)
    with pytest.raises(DataError, match=rf"^test: cannot decode image {path}: float pixels {found}"):
        decoded(path)


# --- orientation -----------------------------------------------------------------------------


SAVE_OPTIONS = {"png": {}, "tif": {}, "webp": {"lossless": True}, "deflate.tif": {"compression": "tiff_deflate"}}


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", list(SAVE_OPTIONS))
def test_exif_orientation_is_applied_as_a_viewer_does(tmp_path, orientation, fmt):
    pixels = (np.arange(6 * 4, dtype=np.uint8).reshape(4, 6) * 10)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"turned.{fmt}"
    Image.fromarray(pixels).save(path, exif=exif, **SAVE_OPTIONS[fmt])
    reference = io.BytesIO()  # a PNG read from memory: Pillow's path that every version turns right
    Image.fromarray(pixels).save(reference, "PNG", exif=exif)
    viewer = np.asarray(ImageOps.exif_transpose(Image.open(reference)))
    assert viewer.shape == ((6, 4) if orientation >= 5 else (4, 6))
    assert probe("test", [ImageRef("t", path=path)])[0][1] == viewer.shape[::-1]
    assert np.array_equal(decoded(path)[0], viewer)


def test_a_phone_photo_turned_by_exif_is_probed_and_decoded_upright(tmp_path):
    photo = np.zeros((30, 40, 3), np.uint8)
    photo[:, :20] = (250, 0, 0)  # left half red as stored; a 90-degree turn (6) puts it on top
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    assert probe("test", [ImageRef("p", path=tmp_path / "phone.jpg")])[0][1] == (30, 40)
    out = decoded(tmp_path / "phone.jpg")
    assert out.shape == (3, 40, 30)
    assert out[0, :15].mean() > 240 and out[0, 25:].mean() < 10


# --- refusals and the cache ------------------------------------------------------------------


def test_an_image_pillow_cannot_read_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "odd.tif"
    Image.new("L", (4, 4)).save(path)
    raw = bytearray(path.read_bytes())
    tag = raw.find(struct.pack("<HHI", 258, 3, 1))  # BitsPerSample -> 13, which Pillow has no mode for
    raw[tag + 8:tag + 10] = struct.pack("<H", 13)
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as caught:
        decoded(path)
    assert str(caught.value).startswith(f"test: cannot decode image {path}: ") and "\n" not in str(caught.value)


def test_bytes_from_a_data_set_column_follow_the_same_rules(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([np.full((8, 8, 3), 255, np.uint8), digit(8)])).save(buffer, "PNG")
    out = decode("hf", [ImageRef("train row 0 of x", data=buffer.getvalue())], 1, (8, 8))
    assert np.array_equal(out[0, 0].numpy(), digit(8))


def test_a_cache_written_by_other_decoding_rules_is_decoded_again(tmp_path, monkeypatch):
    root = tmp_path / "digits"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGBA", (8, 8), (255, 255, 255, 0)).save(root / name / f"{i}.png")
    create_dataset("imagefolder", data_dir=root, img_size=8, log=lambda line: None)
    lines = []
    create_dataset("imagefolder", data_dir=root, img_size=8, log=lines.append)
    assert lines == []  # the cache answers
    monkeypatch.setattr("cganzoo_datasets.imagefolder.DECODER_VERSION", 10**6)
    create_dataset("imagefolder", data_dir=root, img_size=8, log=lines.append)
    assert lines[0].startswith("imagefolder: decoding 6 images")
