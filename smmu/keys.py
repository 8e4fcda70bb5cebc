"""The S3 key scheme. Output keys are deterministic per job so a retried step overwrites, never duplicates."""

import re
import uuid

UPLOAD_PREFIX = "uploads/"
OUTPUT_PREFIX = "jobs/"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 100


def safe_filename(filename: str) -> str:
    """A key-safe version of a client's file name: no paths, no control or shell characters."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._")
    if not cleaned:
        return "upload"
    if len(cleaned) > _MAX_NAME:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: _MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else cleaned[:_MAX_NAME]
    return cleaned


def upload_key(job_id: str, filename: str) -> str:
    return f"{UPLOAD_PREFIX}{job_id}/{safe_filename(filename)}"


def job_id_from_upload_key(key: str) -> str | None:
    """The job id an uploaded object belongs to, or None for a key outside the scheme."""
    if not key.startswith(UPLOAD_PREFIX):
        return None
    parts = key[len(UPLOAD_PREFIX) :].split("/")
    if len(parts) != 2 or not parts[1]:
        return None
    try:
        return str(uuid.UUID(parts[0]))
    except ValueError:
        return None


def output_key(job_id: str, *parts: str) -> str:
    return OUTPUT_PREFIX + job_id + "/" + "/".join(parts)
