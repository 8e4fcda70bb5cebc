"""HEIC and AVIF photos in, JPEG + WebP + AVIF out, the placeholder and the perceptual hash: on real photos from
registry packages' test data (tests/fixtures/images) and on generated ones."""

import base64
import io

import pytest
import thash
from PIL import ExifTags, Image, ImageDraw

from lambdas.process_image.thumbnails import dominant_color, fingerprint, thumbnails_and_metadata
from smmu.errors import TypeMismatchError
from smmu.media_types import detect
from smmu.similar import hamming
from tests import media

pytestmark = pytest.mark.unit
WIDTHS = (160, 320, 640)


def _process(tmp_path, data: bytes, **options):
    path = tmp_path / "source"
    path.write_bytes(data)
    return thumbnails_and_metadata(path, 80_000_000, WIDTHS, **options)


@pytest.mark.parametrize(
    ("name", "declared", "detected"),
    [
        ("arrow.heic", "image/heic", "image/heic"),
        ("xiaomi.heic", "image/heif", "image/heic"),  # one HEIF family: either name is accepted
        ("rot1mir0.avif", "image/avif", "image/avif"),
    ],
)
def test_heic_and_avif_are_detected_by_content(name, declared, detected):
    detection = detect(media.photo_file(name)[:8192], declared)
    assert (detection.media_type.value, detection.content_type) == ("image", detected)


def test_a_camera_heif_with_the_10_bit_brand_is_detected_and_avif_is_not_heic():
    # ftyp "heix" (10-bit HEVC, cameras' .hif files): filetype's own HEIC matcher misses it.
    head = b"\x00\x00\x00\x1cftypheix\x00\x00\x00\x00mif1heixmiaf" + b"\x00" * 64
    assert detect(head, "image/heic").content_type == "image/heif"
    with pytest.raises(TypeMismatchError, match="declared as image/heic but the content is image/avif"):
        detect(media.photo_file("rot1mir0.avif")[:8192], "image/heic")


def _no_metadata(image: Image.Image) -> bool:
    return not image.getexif() and not image.info.get("xmp") and "icc_profile" not in image.info


def test_an_iphone_heic_comes_out_upright_in_three_formats_without_metadata(tmp_path):
    processed = _process(tmp_path, media.photo_file("arrow.heic"))
    meta = processed.metadata
    # Stored 4032x3024 with a 90 degree turn in the container: a portrait photo.
    assert (meta["width"], meta["height"], meta["format"]) == (3024, 4032, "HEIF")
    by_width: dict[int, dict[str, bytes]] = {}
    for rendition in processed.renditions:
        image = media.decode(rendition.data)
        assert image.size == (rendition.width, rendition.height) == (rendition.width, round(rendition.width * 4 / 3))
        assert _no_metadata(image)
        by_width.setdefault(rendition.width, {})[image.format] = rendition.data
    assert sorted(by_width) == list(WIDTHS)
    for width, encoded in by_width.items():
        assert set(encoded) == {"JPEG", "WEBP", "AVIF"}
        assert len(encoded["WEBP"]) < len(encoded["JPEG"]) and len(encoded["AVIF"]) < len(encoded["JPEG"]), width
    assert [r.primary for r in processed.renditions if r.width == 640] == [True, False, False]


def test_gps_never_reaches_an_output_and_reaches_the_metadata_only_when_allowed(tmp_path):
    original = Image.open(io.BytesIO(media.photo_file("xiaomi.heic")))
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the photo does carry a location
    processed = _process(tmp_path, media.photo_file("xiaomi.heic"))
    assert processed.metadata["exif"]["HasGPS"] is True and "Location" not in processed.metadata["exif"]
    assert "Xiaomi" in processed.metadata["exif"].get("Make", "")
    for rendition in processed.renditions:
        assert _no_metadata(media.decode(rendition.data))
    shown = _process(tmp_path, media.photo_file("xiaomi.heic"), keep_location=True).metadata["exif"]["Location"]
    assert 47 < shown["latitude"] < 48 and 39 < shown["longitude"] < 40


def test_an_avif_turned_in_its_container_comes_out_upright(tmp_path):
    processed = _process(tmp_path, media.photo_file("rot1mir0.avif"))
    assert (processed.metadata["width"], processed.metadata["height"]) == (640, 427)
    largest = [r for r in processed.renditions if r.width == 640]
    assert [(r.content_type, r.height) for r in largest] == [
        ("image/jpeg", 427),
        ("image/webp", 427),
        ("image/avif", 427),
    ]


def test_transparency_skips_jpeg_and_keeps_alpha_in_webp_and_avif(tmp_path):
    processed = _process(tmp_path, media.photo_file("transparency.avif"))
    assert [(r.content_type, r.primary) for r in processed.renditions] == [
        ("image/webp", True),
        ("image/avif", False),
    ]
    for rendition in processed.renditions:
        assert media.decode(rendition.data).mode == "RGBA"


def test_formats_can_be_narrowed(tmp_path):
    processed = _process(tmp_path, media.jpeg(700, 400), formats=("avif",))
    assert {r.content_type for r in processed.renditions} == {"image/avif"}
    assert all(r.primary for r in processed.renditions)


def _placeholder_aspect(hashed: str) -> float:
    """The aspect a client gives the placeholder (ThumbHash's own estimate, as the reference decoder sizes it),
    after checking that the hash decodes."""
    data = list(base64.b64decode(hashed))
    width, height, rgba = thash.thumb_hash_to_rgba(data)
    assert width > 0 and height > 0 and len(rgba) == width * height * 4
    return thash.thumb_hash_to_approximate_aspect_ratio(data)


@pytest.mark.parametrize(("width", "height"), [(1200, 800), (800, 1200), (1000, 1000), (1600, 400)])
def test_the_placeholder_decodes_to_the_pictures_aspect(tmp_path, width, height):
    processed = _process(tmp_path, media.jpeg(width, height))
    aspect = _placeholder_aspect(processed.fingerprint.thumbhash)
    # ThumbHash keeps the aspect to within its coarse grid (a few percent; very long pictures are capped).
    assert abs(aspect - width / height) / (width / height) < 0.2 or (width / height > 3 and aspect >= 3)


def test_a_transparent_pictures_placeholder_is_transparent_where_the_picture_is(tmp_path):
    # An opaque red disc on a transparent square: a page paints the placeholder over its own background.
    logo = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((100, 100, 300, 300), fill=(220, 20, 20, 255))
    buffer = io.BytesIO()
    logo.save(buffer, "PNG")
    processed = _process(tmp_path, buffer.getvalue())
    width, height, rgba = thash.thumb_hash_to_rgba(list(base64.b64decode(processed.fingerprint.thumbhash)))
    preview = Image.frombytes("RGBA", (width, height), bytes(rgba))
    corner, centre = preview.getpixel((0, 0)), preview.getpixel((width // 2, height // 2))
    assert corner[3] < 64, corner  # the corners stay see-through
    assert centre[3] > 192 and centre[0] > 2 * max(centre[1], centre[2]), centre  # the disc: opaque and red
    assert processed.fingerprint.dominant_color != "#000000"


def test_the_placeholder_of_an_upright_heic_is_portrait(tmp_path):
    processed = _process(tmp_path, media.photo_file("arrow.heic"))
    assert abs(_placeholder_aspect(processed.fingerprint.thumbhash) - 3 / 4) < 0.1


def test_the_dominant_colour_is_the_largest_area_not_the_average():
    picture = Image.new("RGB", (100, 100), (200, 30, 30))
    picture.paste((20, 20, 220), (0, 0, 40, 100))  # 40 % blue, 60 % red: the average would be purple
    assert dominant_color(picture) == "#c81e1e"
    transparent = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    transparent.paste((0, 255, 0, 255), (0, 0, 3, 10))  # only the opaque pixels count
    assert dominant_color(transparent) == "#00ff00"


def test_a_resized_reencoded_copy_is_near_and_another_photo_is_far(tmp_path):
    original = _process(tmp_path, media.photo_file("xiaomi.heic")).fingerprint.perceptual_hash
    copy = Image.open(io.BytesIO(media.photo_file("xiaomi.heic"))).convert("RGB")
    copy.thumbnail((1000, 1000))
    buffer = io.BytesIO()
    copy.save(buffer, "JPEG", quality=60)
    near = _process(tmp_path, buffer.getvalue()).fingerprint.perceptual_hash
    other = _process(tmp_path, media.photo_file("arrow.heic")).fingerprint.perceptual_hash
    assert len(original) == 32  # 128 bits
    assert hamming(original, near) <= 6
    assert hamming(original, other) > 30


def test_fingerprint_of_a_tiny_picture():
    result = fingerprint(Image.new("RGB", (1, 1), (10, 20, 30)))
    assert result.dominant_color == "#0a141e" and _placeholder_aspect(result.thumbhash) == 1
