"""Exact and near duplicates among one tenant's images and videos.

Exact: the same bytes (SHA-256). Near: a perceptual hash that differs in at most ``max_distance`` bits. An image's
hash is one dHash of rows and columns (128 bits, 32 hex digits): a resized, re-encoded or lightly edited copy of a
photo differs in a few bits, two different photos in about half of them. A video's is the dHash of a few frames
at fixed fractions of its duration, joined with ``:`` (``FRAME_SEPARATOR``); two videos are compared frame by
frame and their distance is the mean over the frames (rounded up), so ``max_distance`` means the same for both:
bits of 128 per picture. Hashes of different frame counts (an image and a video) are never compared. The two
kinds of match are reported apart, never mixed.
"""

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smmu.jobs import Job

if TYPE_CHECKING:
    from PIL import Image

FRAME_SEPARATOR = ":"


def hamming(a: str, b: str) -> int:
    """Differing bits of two hex hashes of the same length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def distance(a: str, b: str) -> int | None:
    """Distance of two perceptual hashes in bits per picture: the mean of the frames' Hamming distances, rounded
    up (so ``distance <= n`` exactly when the mean is at most ``n``). None when they cannot be compared: other
    frame counts (an image and a video) or other hash sizes."""
    frames_a, frames_b = a.split(FRAME_SEPARATOR), b.split(FRAME_SEPARATOR)
    if len(frames_a) != len(frames_b) or any(len(x) != len(y) for x, y in zip(frames_a, frames_b, strict=True)):
        return None
    total = sum(hamming(x, y) for x, y in zip(frames_a, frames_b, strict=True))
    return -(-total // len(frames_a))


def dhash_hex(picture: "Image.Image") -> str:
    """The dHash of a picture (rows and columns, 128 bits) as 32 hex digits: images and video frames alike."""
    import dhash  # only the steps that hash pictures need it

    with warnings.catch_warnings():  # dhash 1.4 reads pixels with getdata(), which Pillow 13 deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        row, col = dhash.dhash_row_col(picture)
    return str(dhash.format_hex(row, col))


def join_frames(hashes: list[str]) -> str:
    """A video's perceptual hash from its frames' hashes, in time order."""
    return FRAME_SEPARATOR.join(hashes)


@dataclass(frozen=True)
class Match:
    job: Job
    distance: int


@dataclass(frozen=True)
class Similar:
    exact: list[Match]
    near: list[Match]


def find_similar(job: Job, candidates: list[Job], max_distance: int) -> Similar:
    """``job``'s exact duplicates (same SHA-256) and near-duplicates (perceptual hash within ``max_distance``
    bits per picture, other bytes) among ``candidates`` (of its tenant), nearest and then newest first."""
    exact: list[Match] = []
    near: list[Match] = []
    for other in candidates:
        if other.job_id == job.job_id or other.tenant_id != job.tenant_id:
            continue
        same_bytes = job.sha256 is not None and other.sha256 == job.sha256
        apart = (
            distance(job.perceptual_hash, other.perceptual_hash)
            if job.perceptual_hash and other.perceptual_hash
            else None
        )
        if apart is None:
            if not same_bytes:
                continue
            apart = 0
        if same_bytes:
            exact.append(Match(other, apart))
        elif apart <= max_distance:
            near.append(Match(other, apart))
    newest_first = sorted(exact, key=lambda m: m.job.created_at, reverse=True)
    nearest = sorted(
        sorted(near, key=lambda m: m.job.created_at, reverse=True), key=lambda m: m.distance
    )  # stable: newest first among equals
    return Similar(exact=newest_first, near=nearest)
