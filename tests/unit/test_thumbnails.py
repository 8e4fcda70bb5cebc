import io

import pytest
from PIL import Image

from lambdas.process_image.thumbnails import (
    ProcessedImage,
    Rendition,
    describe,
    make_thumbnails,
    open_image,
    thumbnails_and_metadata,
)
from smmu.errors import CorruptMediaError, ObjectTooLargeError
from tests import media

pytestmark = pytest.mark.unit


def _open(tmp_path, data, max_pixels=80_000_000):
    path = tmp_path / "source"
    path.write_bytes(data)
    return open_image(path, max_pixels)


def test_widths_orientation_and_no_exif(tmp_path):
    image = _open(tmp_path, media.jpeg(1200, 800, orientation=6, make="TestCam", gps=True))
    meta = describe(image)
    assert (meta["width"], meta["height"]) == (800, 1200)  # rotated 90 degrees for display
    assert meta["exif"]["Make"] == "TestCam"
    assert meta["exif"]["HasGPS"] is True
    assert meta["exif"]["Orientation"] == 6 and isinstance(meta["exif"]["Orientation"], int)
    renditions = make_thumbnails(image, (160, 320, 640), ("jpeg",))
    assert [r.width for r in renditions] == [160, 320, 640]
    for rendition in renditions:
        out = media.decode(rendition.data)
        assert out.format == "JPEG"
        assert out.size == (rendition.width, rendition.width * 3 // 2)
        assert not out.getexif()  # EXIF stripped
    # The blue marker was top-left in storage; orientation 6 moves it to the top-right when upright.
    upright = media.decode(renditions[-1].data).convert("RGB")
    assert upright.getpixel((630, 10))[2] > 200
    assert upright.getpixel((10, 10))[2] < 100


def test_alpha_becomes_webp_with_alpha(tmp_path):
    renditions = make_thumbnails(_open(tmp_path, media.png_with_alpha(500, 300)), (160, 320, 640), ("jpeg",))
    assert [r.width for r in renditions] == [160, 320]  # never upscaled past 500
    out = media.decode(renditions[0].data)
    assert out.format == "WEBP" and out.mode == "RGBA"
    assert out.getpixel((5, 5))[3] == 0 and out.getpixel((150, 5))[3] == 255


def test_small_image_is_not_upscaled(tmp_path):
    renditions = make_thumbnails(_open(tmp_path, media.jpeg(100, 50)), (160, 320, 640))
    assert [(r.width, r.height, r.content_type) for r in renditions] == [
        (100, 50, "image/jpeg"),
        (100, 50, "image/webp"),
        (100, 50, "image/avif"),
    ]


def test_truncated_jpeg(tmp_path):
    data = media.jpeg(1200, 800)
    with pytest.raises(CorruptMediaError, match="truncated or corrupt"):
        make_thumbnails(_open(tmp_path, data[: len(data) // 2]), (160,))


def test_garbage_is_corrupt(tmp_path):
    with pytest.raises(CorruptMediaError):
        _open(tmp_path, b"\xff\xd8\xff" + b"\x00" * 50)


def test_decompression_bomb_is_refused(tmp_path):
    buffer = io.BytesIO()
    Image.new("L", (4000, 4000)).save(buffer, "PNG")
    with pytest.raises(ObjectTooLargeError, match="over the 1000000 pixel limit"):
        _open(tmp_path, buffer.getvalue(), max_pixels=1_000_000)
    with pytest.raises(ObjectTooLargeError, match="4000x4000 pixels, over the 10000000 pixel limit"):
        _open(tmp_path, buffer.getvalue(), max_pixels=10_000_000)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(media.truncated(media.png_with_alpha(1200, 800)), id="truncated-png"),
        pytest.param(media.png_with_ztxt_bomb(), id="ztxt-bomb"),
    ],
)
def test_hostile_pngs_are_corrupt_media(tmp_path, data):
    path = tmp_path / "source"
    path.write_bytes(data)
    with pytest.raises(CorruptMediaError, match="truncated or corrupt"):
        thumbnails_and_metadata(path, 80_000_000, (160, 320, 640))


def _primary(processed: ProcessedImage) -> tuple[dict, list[Rendition]]:
    return processed.metadata, [r for r in processed.renditions if r.primary]


def _saved(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(("size", "expected"), [((1, 3000), [(1, 3000)]), ((3000, 1), [(160, 1), (320, 1), (640, 1)])])
def test_one_pixel_wide_or_high_images(tmp_path, size, expected):
    path = tmp_path / "source"
    path.write_bytes(_saved(Image.new("RGB", size, (10, 200, 30)), "PNG"))
    meta, renditions = _primary(thumbnails_and_metadata(path, 80_000_000, (160, 320, 640)))
    assert (meta["width"], meta["height"]) == size
    assert [(r.width, r.height) for r in renditions] == expected
    assert media.decode(renditions[0].data).size == expected[0]


def test_a_long_gif_is_counted_and_its_first_frame_thumbnailed(tmp_path):
    path = tmp_path / "source"
    path.write_bytes(media.long_gif(frames=300))
    meta, renditions = _primary(thumbnails_and_metadata(path, 80_000_000, (160, 320, 640)))
    assert meta["frames"] == 300 and meta["format"] == "GIF"
    assert [(r.width, r.content_type) for r in renditions] == [(64, "image/jpeg")]


def test_a_large_png_is_thumbnailed_without_its_full_size_in_memory(tmp_path):
    # 4000x4000 RGBA: 64 MB decoded; libvips shrinks it while decoding. (Peak memory is measured in bench/.)
    path = tmp_path / "source"
    path.write_bytes(media.big_png(4000, 4000))
    meta, renditions = _primary(thumbnails_and_metadata(path, 80_000_000, (160, 320, 640)))
    assert (meta["width"], meta["height"], meta["has_alpha"]) == (4000, 4000, True)
    assert [(r.width, r.height, r.content_type) for r in renditions] == [
        (160, 160, "image/webp"),
        (320, 320, "image/webp"),
        (640, 640, "image/webp"),
    ]
    pixel = media.decode(renditions[-1].data).convert("RGBA").getpixel((320, 320))
    assert all(abs(a - b) <= 3 for a, b in zip(pixel, (30, 90, 160, 255), strict=True)), pixel


def test_formats_libvips_does_not_read_here_go_through_pillow(tmp_path):
    path = tmp_path / "source"
    path.write_bytes(_saved(Image.new("RGB", (800, 600), (200, 10, 10)), "BMP"))
    meta, renditions = _primary(thumbnails_and_metadata(path, 80_000_000, (160, 320, 640)))
    assert meta["format"] == "BMP"
    assert [(r.width, r.height) for r in renditions] == [(160, 120), (320, 240), (640, 480)]
