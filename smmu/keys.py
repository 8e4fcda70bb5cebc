"""The S3 key scheme. Output keys are deterministic per job so a retried step overwrites, never duplicates."""

import re
import unicodedata
import uuid

UPLOAD_PREFIX = "uploads/"
OUTPUT_PREFIX = "jobs/"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 100
#: What a client's file name may be, once cleaned, when it is stored and shown (see ``clean_filename``).
MAX_DISPLAY_NAME = 255
#: Characters that mean markup in the places a name is shown; dropped rather than escaped.
_MARKUP = frozenset('<>"`')
TENANT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_TENANT = re.compile(TENANT_PATTERN)


def clean_filename(filename: str) -> str:
    """The name a job stores and shows for a client's file: Unicode NFC, no control or format characters, no
    markup characters, no directories, at most ``MAX_DISPLAY_NAME`` characters (keeping the extension).

    Returns "" when nothing usable is left; the caller refuses such a name.
    """
    name = unicodedata.normalize("NFC", filename)
    name = "".join(
        " " if ch in "\t\r\n" else ch
        for ch in name
        if ch in "\t\r\n" or (not unicodedata.category(ch).startswith("C") and ch not in _MARKUP)
    )
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = " ".join(name.split())  # runs of whitespace (a CRLF became spaces) collapse to one
    if len(name) > MAX_DISPLAY_NAME:
        stem, dot, ext = name.rpartition(".")
        keep = dot and 0 < len(ext) <= 10
        name = (stem[: MAX_DISPLAY_NAME - len(ext) - 1] + "." + ext) if keep else name[:MAX_DISPLAY_NAME]
    return name.strip()


def is_tenant_id(value: str) -> bool:
    return bool(_TENANT.match(value))


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


def upload_key(tenant_id: str, job_id: str, filename: str) -> str:
    """``uploads/<tenant>/<job>/<name>``: the tenant leads, so one tenant's objects share a prefix (for IAM
    conditions, lifecycle rules and audits)."""
    return f"{UPLOAD_PREFIX}{tenant_id}/{job_id}/{safe_filename(filename)}"


def job_id_from_upload_key(key: str) -> str | None:
    """The job id an uploaded object belongs to, or None for a key outside the scheme."""
    if not key.startswith(UPLOAD_PREFIX):
        return None
    parts = key[len(UPLOAD_PREFIX) :].split("/")
    if len(parts) != 3 or not parts[2] or not is_tenant_id(parts[0]):
        return None
    try:
        return str(uuid.UUID(parts[1]))
    except ValueError:
        return None


def output_key(job_id: str, *parts: str) -> str:
    return OUTPUT_PREFIX + job_id + "/" + "/".join(parts)
