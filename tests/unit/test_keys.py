import uuid

import pytest

from smmu.keys import job_id_from_upload_key, output_key, safe_filename, upload_key

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
    assert job_id_from_upload_key(upload_key(job_id, "x y.jpg")) == job_id


@pytest.mark.parametrize("key", ["uploads/not-a-uuid/a.jpg", "other/123/a.jpg", "uploads/", f"uploads/{uuid.uuid4()}/"])
def test_keys_outside_the_scheme(key):
    assert job_id_from_upload_key(key) is None


def test_output_keys_are_deterministic():
    assert output_key("j", "thumbnails", "w320.jpg") == "jobs/j/thumbnails/w320.jpg"
