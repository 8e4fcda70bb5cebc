import uuid

import pytest

from smmu.keys import MAX_DISPLAY_NAME, clean_filename, job_id_from_upload_key, output_key, safe_filename, upload_key

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("holiday.jpg", "holiday.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\My Photo (1).jpg", "My_Photo_1_.jpg"),
        ("$(rm -rf ~).png", "rm_-rf_.png"),
        ("...", "upload"),
        ("фото.jpg", "jpg"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_long_names_keep_their_extension():
    cleaned = safe_filename("a" * 300 + ".jpeg")
    assert len(cleaned) <= 100
    assert cleaned.endswith(".jpeg")


def test_upload_key_round_trip():
    job_id = str(uuid.uuid4())
    key = upload_key("acme", job_id, "x y.jpg")
    assert key == f"uploads/acme/{job_id}/x_y.jpg"
    assert job_id_from_upload_key(key) == job_id


@pytest.mark.parametrize(
    "key",
    [
        "uploads/t/not-a-uuid/a.jpg",
        "other/t/123/a.jpg",
        "uploads/",
        f"uploads/t/{uuid.uuid4()}/",
        f"uploads/{uuid.uuid4()}/a.jpg",  # no tenant
        f"uploads/Not_A_Tenant/{uuid.uuid4()}/a.jpg",
    ],
)
def test_keys_outside_the_scheme(key):
    assert job_id_from_upload_key(key) is None


def test_output_keys_are_deterministic():
    assert output_key("j", "thumbnails", "w320.jpg") == "jobs/j/thumbnails/w320.jpg"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("holiday.jpg", "holiday.jpg"),
        ("Cafe\u0301.jpg", "Caf\u00e9.jpg"),  # NFD in, NFC out
        ("a\x00b.jpg", "ab.jpg"),
        ("line\r\nbreak.jpg", "line break.jpg"),
        ("<script>alert(1)</script>.png", "script.png"),  # markup gone; "/" ends a directory name
        ("<img src=x onerror=alert(1)>.jpg", "img src=x onerror=alert(1).jpg"),
        ("dir/sub\\name.jpg", "name.jpg"),
        ("\u202etxt.exe", "txt.exe"),  # right-to-left override is a format character
        ("\x00\x01", ""),
    ],
)
def test_clean_filename(name, expected):
    assert clean_filename(name) == expected


def test_clean_filename_is_bounded_and_keeps_the_extension():
    cleaned = clean_filename("é" * 1000 + ".jpeg")
    assert len(cleaned) == MAX_DISPLAY_NAME
    assert cleaned.endswith(".jpeg")
