"""Which uploads we accept and how we recognise them: by content (magic bytes), never by file name."""

from dataclasses import dataclass
from enum import StrEnum

import filetype
from filetype.types.isobmff import IsoBmff

from smmu.errors import TypeMismatchError, UnsupportedMediaError

#: Bytes of the object's head that detection needs (filetype reads at most 8 KiB).
DETECTION_HEAD_BYTES = 8192


class MediaType(StrEnum):
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"


#: Canonical content type -> media type. Only these may be uploaded.
ALLOWED_CONTENT_TYPES: dict[str, MediaType] = {
    "image/jpeg": MediaType.IMAGE,
    "image/png": MediaType.IMAGE,
    "image/webp": MediaType.IMAGE,
    "image/gif": MediaType.IMAGE,
    "image/tiff": MediaType.IMAGE,
    "image/bmp": MediaType.IMAGE,
    # HEIF: what phones shoot (HEVC inside: .heic; 10-bit cameras: .hif); AVIF: AV1 inside the same container.
    "image/heic": MediaType.IMAGE,
    "image/heif": MediaType.IMAGE,
    "image/avif": MediaType.IMAGE,
    "audio/mpeg": MediaType.AUDIO,
    "audio/wav": MediaType.AUDIO,
    "audio/flac": MediaType.AUDIO,
    "audio/ogg": MediaType.AUDIO,
    "audio/mp4": MediaType.AUDIO,
    "audio/aac": MediaType.AUDIO,
    "video/mp4": MediaType.VIDEO,
    "video/quicktime": MediaType.VIDEO,
    "video/webm": MediaType.VIDEO,
    "video/x-matroska": MediaType.VIDEO,
    "video/x-msvideo": MediaType.VIDEO,
}

#: Other spellings clients and detectors use for the same format.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/apng": "image/png",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-flac": "audio/flac",
    "audio/x-m4a": "audio/mp4",
    "video/x-m4v": "video/mp4",
    "image/heic-sequence": "image/heic",
    "image/heif-sequence": "image/heif",
}

#: Formats whose magic bytes name the container, not what is inside it: an MP4 file carrying only audio is
#: detected as video/mp4, a WebM file as video/webm. Declared and detected types in one family agree.
_CONTAINER_FAMILIES = (
    frozenset({"audio/mp4", "video/mp4", "video/quicktime"}),
    frozenset({"video/webm", "video/x-matroska"}),
    frozenset({"audio/ogg"}),
    # One HEIF container: a phone's .heic may say "mif1" first (generic HEIF), a client may call any HEIF "heic".
    frozenset({"image/heic", "image/heif"}),
)


class _Heif(IsoBmff):  # type: ignore[misc]
    """HEIF brands filetype's own HEIC matcher misses: 10-bit HEVC (``heix``, cameras' .hif), HEVC sequences and
    image collections (``hevc``, ``heim``, ``heis``), and generic HEIF (``mif1``/``msf1``) that is neither HEIC
    nor AVIF by its compatible brands."""

    MIME = "image/heif"
    EXTENSION = "heif"
    _BRANDS = frozenset({"heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs"})

    def __init__(self) -> None:
        super().__init__(mime=self.MIME, extension=self.EXTENSION)

    def match(self, buf: bytes) -> bool:
        if not self._is_isobmff(buf):
            return False
        major, _minor, compatible = self._get_ftyp(buf)
        if major in self._BRANDS:
            return True
        return major in ("mif1", "msf1") and "avif" not in compatible and "heic" not in compatible


# Checked after filetype's own matchers (HEIC, AVIF, MP4, QuickTime), so it only claims what they leave.
filetype.types.append(_Heif())


def canonical(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def is_allowed(content_type: str) -> bool:
    return canonical(content_type) in ALLOWED_CONTENT_TYPES


def _same_format(declared: str, detected: str) -> bool:
    if declared == detected:
        return True
    return any(declared in family and detected in family for family in _CONTAINER_FAMILIES)


@dataclass(frozen=True)
class Detection:
    media_type: MediaType
    content_type: str  # what the bytes are (canonical)


def detect(head: bytes, declared_content_type: str) -> Detection:
    """Identify an upload from its first bytes and check it against what the client declared.

    Raises UnsupportedMediaError when the bytes are no format we accept and TypeMismatchError when they are a
    different format from the declared one (a PNG uploaded as image/jpeg, a text file as image/jpeg).
    """
    declared = canonical(declared_content_type)
    kind = filetype.guess(head)
    if kind is None:
        raise UnsupportedMediaError(
            f"the file's content is not a recognised image, audio or video format (declared {declared})"
        )
    detected = canonical(kind.mime)
    if detected not in ALLOWED_CONTENT_TYPES:
        raise UnsupportedMediaError(f"the file is {detected}, which is not a supported media type")
    if not _same_format(declared, detected):
        raise TypeMismatchError(f"declared as {declared} but the content is {detected}")
    # Within a container family the declaration says which media it is (audio-only MP4 is audio).
    media_type = (
        ALLOWED_CONTENT_TYPES[declared] if declared in ALLOWED_CONTENT_TYPES else ALLOWED_CONTENT_TYPES[detected]
    )
    return Detection(media_type=media_type, content_type=detected)
