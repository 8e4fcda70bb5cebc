import pytest

from smmu.errors import EmptyObjectError, ObjectTooLargeError, TypeMismatchError
from smmu.validation import check_uploaded_object, human_bytes

pytestmark = pytest.mark.unit

OK = {
    "declared_size": 100,
    "max_bytes": 1000,
    "stored_content_type": "image/jpeg",
    "declared_content_type": "image/jpeg",
}


def test_accepts_an_object_within_its_terms():
    check_uploaded_object(actual_size=100, **OK)


def test_empty():
    with pytest.raises(EmptyObjectError, match="empty"):
        check_uploaded_object(actual_size=0, **OK)


def test_larger_than_declared():
    with pytest.raises(ObjectTooLargeError, match="500 bytes, larger than the 100 bytes declared"):
        check_uploaded_object(actual_size=500, **OK)


def test_over_the_limit():
    with pytest.raises(ObjectTooLargeError, match="over the 1000 bytes limit"):
        check_uploaded_object(actual_size=5000, **{**OK, "declared_size": 10_000})


def test_stored_content_type_must_match():
    with pytest.raises(TypeMismatchError, match="uploaded as text/plain"):
        check_uploaded_object(actual_size=10, **{**OK, "stored_content_type": "text/plain"})


def test_human_bytes():
    assert human_bytes(512) == "512 bytes"
    assert human_bytes(100 * 1024 * 1024) == "100.0 MiB"
