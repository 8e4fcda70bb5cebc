"""Checks on an uploaded object that S3's POST policy promises but an emulator does not enforce."""

from smmu.errors import EmptyObjectError, ObjectTooLargeError, TypeMismatchError
from smmu.media_types import canonical


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def check_uploaded_object(
    *,
    actual_size: int,
    declared_size: int,
    max_bytes: int,
    stored_content_type: str | None,
    declared_content_type: str,
) -> None:
    """Raise a BadInputError subclass with a human-readable reason if the object breaks the upload's terms."""
    if actual_size == 0:
        raise EmptyObjectError("the uploaded file is empty (0 bytes)")
    if actual_size > max_bytes:
        raise ObjectTooLargeError(
            f"the uploaded file is {human_bytes(actual_size)}, over the {human_bytes(max_bytes)} limit"
        )
    if actual_size > declared_size:
        raise ObjectTooLargeError(
            f"the uploaded file is {actual_size} bytes, larger than the {declared_size} bytes declared"
        )
    if stored_content_type and canonical(stored_content_type) != canonical(declared_content_type):
        raise TypeMismatchError(
            f"the file was uploaded as {stored_content_type} but declared as {declared_content_type}"
        )
