import io

import pytest
from PIL import Image

from lambdas.process_image.thumbnails import describe, make_thumbnails, open_image, thumbnails_and_metadata
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
    renditions = make_thumbnails(image, (160, 320, 640))
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
    renditions = make_thumbnails(_open(tmp_path, media.png_with_alpha(500, 300)), (160, 320, 640))
    assert [r.width for r in renditions] == [160, 320]  # never upscaled past 500
    out = media.decode(renditions[0].data)
    assert out.format == "WEBP" and out.mode == "RGBA"
    assert out.getpixel((5, 5))[3] == 0 and out.getpixel((150, 5))[3] == 255


def test_small_image_is_not_upscaled(tmp_path):
    renditions = make_thumbnails(_open(tmp_path, media.jpeg(100, 50)), (160, 320, 640))
    assert [(r.width, r.height) for r in renditions] == [(100, 50)]


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
