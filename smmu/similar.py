"""Exact and near duplicates among one tenant's images.

Exact: the same bytes (SHA-256). Near: a perceptual hash (dHash of rows and columns, 128 bits) that differs in at
most ``max_distance`` bits: a resized, re-encoded or lightly edited copy of a photo differs in a few bits, two
different photos in about half of them. The two are reported apart, never mixed.
"""

from dataclasses import dataclass

from smmu.jobs import Job


def hamming(a: str, b: str) -> int:
    """Differing bits of two hex hashes of the same length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


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
    bits, other bytes) among ``candidates`` (of its tenant), nearest and then newest first."""
    exact: list[Match] = []
    near: list[Match] = []
    for other in candidates:
        if other.job_id == job.job_id or other.tenant_id != job.tenant_id:
            continue
        same_bytes = job.sha256 is not None and other.sha256 == job.sha256
        if job.perceptual_hash and other.perceptual_hash and len(other.perceptual_hash) == len(job.perceptual_hash):
            distance = hamming(job.perceptual_hash, other.perceptual_hash)
        elif same_bytes:
            distance = 0
        else:
            continue
        if same_bytes:
            exact.append(Match(other, distance))
        elif distance <= max_distance:
            near.append(Match(other, distance))
    newest_first = sorted(exact, key=lambda m: m.job.created_at, reverse=True)
    nearest = sorted(
        sorted(near, key=lambda m: m.job.created_at, reverse=True), key=lambda m: m.distance
    )  # stable: newest first among equals
    return Similar(exact=newest_first, near=nearest)
