"""Still-image io through FFmpeg."""

from __future__ import annotations

import numpy as np
import pytest

from vsr.errors import InputNotFoundError, InvalidInputError, OutputError
from vsr.io.image import image_codec, jpeg_quality, read_image, read_picture, write_image


def test_png_is_lossless_and_jpeg_quality_takes_effect(tmp_path) -> None:
    rgb = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "a.png", rgb)
    assert np.array_equal(read_image(tmp_path / "a.png"), rgb)
    errors, sizes = [], []
    for quality in (10, 50, 95):
        path = tmp_path / f"q{quality}.jpg"
        write_image(path, rgb, quality=quality)
        errors.append(np.abs(read_image(path).astype(int) - rgb).mean())
        sizes.append(path.stat().st_size)
    assert errors[0] > errors[1] > errors[2] and sizes[0] < sizes[1] < sizes[2]


def test_a_jpegs_quality_is_read_back_from_its_quantisation_table(tmp_path) -> None:
    from PIL import Image

    rgb = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
    for quality in (20, 50, 75, 90, 95):
        Image.fromarray(rgb).save(tmp_path / "p.jpg", quality=quality)  # libjpeg's own scale
        assert jpeg_quality(tmp_path / "p.jpg") == quality
    # behind an EXIF block, with 16-bit tables (progressive, optimised: other markers come first)
    exif = Image.Exif()
    exif[0x010F] = "camera " * 200
    Image.fromarray(rgb).save(tmp_path / "e.jpg", quality=85, exif=exif, progressive=True, optimize=True)
    assert jpeg_quality(tmp_path / "e.jpg") == 85 and read_picture(tmp_path / "e.jpg").jpeg_quality == 85
    header = (tmp_path / "e.jpg").read_bytes()
    sixteen = bytearray(b"\xff\xd8\xff\xdb\x00\x83\x10")  # one 16-bit luminance table: 2x quality 50's
    for v in (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17,
              22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78,
              87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99):
        sixteen += (2 * v).to_bytes(2, "big")
    (tmp_path / "w.jpg").write_bytes(bytes(sixteen) + b"\xff\xd9")
    assert jpeg_quality(tmp_path / "w.jpg") == 25  # libjpeg doubles its table at quality 25
    write_image(tmp_path / "p.png", rgb)
    (tmp_path / "cut.jpg").write_bytes(header[:30])
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xdb\x00\x01" + header)  # a segment length under 2
    for other in ("p.png", "cut.jpg", "bad.jpg", "none.jpg"):
        assert jpeg_quality(tmp_path / other) is None
    assert read_picture(tmp_path / "p.png").jpeg_quality is None


@pytest.mark.parametrize("suffix,kinds", [
    (".tga", ("rgb", "rgba", "gray")),  # Targa: game textures, alpha kept
    (".ppm", ("rgb", "rgb16")),  # Netpbm, 16 bits kept
    (".pgm", ("gray", "gray16")),
    (".pam", ("rgb", "rgba", "rgb16", "gray", "graya", "graya16")),
    (".qoi", ("rgb", "rgba")),
    (".png", ("graya", "graya16")),  # gray + alpha: its alpha came back off by one (via RGBA)
])
def test_still_formats_round_trip_exactly(suffix, kinds, tmp_path) -> None:
    rng = np.random.default_rng(1)
    for kind in kinds:
        deep = kind.endswith("16")
        channels = {"rgb": 3, "rgba": 4, "gray": 1, "graya": 2}[kind.removesuffix("16")]
        top = 65535 if deep else 255
        pixels = (rng.random((13, 17, channels)) * top).round().astype(np.uint16 if deep else np.uint8)
        path = tmp_path / f"{kind}{suffix}"
        assert write_image(path, pixels) == []
        picture = read_picture(path)
        assert (picture.deep, picture.gray, picture.alpha is not None) == (deep, channels < 3, channels in (2, 4))
        colour = np.round(picture.rgb * top).astype(int)
        expect = pixels[..., :1].repeat(3, -1) if channels < 3 else pixels[..., :3]
        assert np.array_equal(colour, expect), (suffix, kind)
        if picture.alpha is not None:
            assert np.array_equal(np.round(picture.alpha * top).astype(int), pixels[..., -1])


def test_a_gray_only_format_takes_the_luma_and_says_so(tmp_path) -> None:
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 1] = 200  # green: BT.601 luma 0.587 * 200 = 117
    lost = write_image(tmp_path / "g.pgm", rgb)
    assert lost == [".pgm holds gray only: the colour was dropped (write .ppm or .png to keep it)"]
    assert abs(int(read_image(tmp_path / "g.pgm")[0, 0, 0]) - 117) <= 2
    # 16 bits stay 16 (PGM has them), and alpha goes with a word of its own
    lost = write_image(tmp_path / "d.pgm", np.concatenate([rgb.astype(np.uint16) * 257, np.zeros((8, 8, 1), np.uint16)], -1))
    assert len(lost) == 2 and "holds no transparency" in lost[1] and read_picture(tmp_path / "d.pgm").deep


def test_image_errors(tmp_path) -> None:
    with pytest.raises(InputNotFoundError):
        read_image(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50))
    with pytest.raises(InvalidInputError, match=r"^cannot decode image .*bad.png: damaged, or not an image "
                                               r"FFmpeg reads \(Invalid data found when processing input\)$"):
        read_picture(tmp_path / "bad.png")
    with pytest.raises(OutputError, match="unknown suffix"):
        write_image(tmp_path / "x.gifx", np.zeros((4, 4, 3), np.uint8))


def test_avif_is_written_as_a_still_and_read_with_its_separate_alpha(tmp_path) -> None:
    yy, xx = np.mgrid[0:60, 0:90]
    rgb = np.stack([xx * 2, yy * 3, xx + yy], -1).astype(np.uint8)  # smooth: AV1 keeps it close
    assert write_image(tmp_path / "a.avif", rgb) == []
    picture = read_picture(tmp_path / "a.avif")
    assert picture.rgb.shape == (60, 90, 3) and picture.alpha is None and not picture.deep
    assert np.abs(picture.rgb * 255 - rgb).mean() < 3.0  # full-range BT.601 both ways, not shifted
    deep = rgb.astype(np.uint16) * 257
    assert write_image(tmp_path / "d.avif", deep) == []
    assert read_picture(tmp_path / "d.avif").deep  # 10-bit AV1
    lost = write_image(tmp_path / "t.avif", np.concatenate([rgb, np.full((60, 90, 1), 9, np.uint8)], -1))
    assert len(lost) == 1 and "vsr writes AVIF opaque" in lost[0]
    with pytest.raises(OutputError, match="numbered .avif frames are not written"):
        image_codec(".avif")
    # transparency, as libavif writes it: a second, gray picture (Pillow's AVIF plugin has libavif)
    image = pytest.importorskip("PIL.Image")
    if not pytest.importorskip("PIL.features").check("avif"):
        pytest.skip("this Pillow has no AVIF")
    alpha = np.where(xx < 45, 0, 255).astype(np.uint8)
    image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "web.avif", quality=95)
    picture = read_picture(tmp_path / "web.avif")
    assert picture.alpha is not None and np.abs(picture.alpha * 255 - alpha).max() <= 2
    assert np.abs(picture.rgb * 255 - rgb)[alpha > 0].mean() < 3.0


def test_heic_photos_are_read_through_libheif(tmp_path, monkeypatch) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")  # the `heic` extra (in `test`)
    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([xx * 3, yy * 4, xx + yy], -1).astype(np.uint8)
    alpha = np.where(xx < 32, 0, 255).astype(np.uint8)
    pillow_heif.from_bytes(mode="RGBA", size=(64, 48), data=np.dstack([rgb, alpha]).tobytes()).save(
        tmp_path / "phone.heic", quality=-1)  # lossless
    picture = read_picture(tmp_path / "phone.heic")
    assert picture.rgb.shape == (48, 64, 3) and not picture.deep and not picture.gray
    assert np.abs(picture.rgb * 255 - rgb).mean() < 2.0
    assert picture.alpha is not None and np.abs(picture.alpha * 255 - alpha).max() <= 1
    deep = (np.stack([xx * 1000, yy * 1300, (xx + yy) * 500], -1)).astype(np.uint16)
    pillow_heif.from_bytes(mode="RGB;16", size=(64, 48), data=deep.tobytes()).save(tmp_path / "hdr.heic", quality=-1)
    picture = read_picture(tmp_path / "hdr.heic")  # 10 bits in the file: 16 in the picture
    assert picture.deep and np.abs(picture.rgb * 65535 - deep).mean() < 512
    with pytest.raises(OutputError, match="vsr reads HEIC photos but does not write them"):
        write_image(tmp_path / "out.heic", rgb)
    (tmp_path / "bad.heic").write_bytes(b"\0\0\0\x18ftypheic" + bytes(40))
    with pytest.raises(InvalidInputError, match="damaged, or not a HEIF photo"):
        read_picture(tmp_path / "bad.heic")
    monkeypatch.setitem(__import__("sys").modules, "pillow_heif", None)  # as without the extra
    with pytest.raises(InvalidInputError, match=r"HEIC/HEIF needs pillow-heif \(pip install 'vsr\[heic\]'\)"):
        read_picture(tmp_path / "phone.heic")
