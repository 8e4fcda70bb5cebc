"""Multipart uploads: how a file is cut into parts, and whether the parts S3 holds make up the declared file.

The bytes go from the client to S3 (``UploadPart`` on presigned URLs, each part carrying its SHA-256, which S3
verifies); the API only plans the parts, hands out URLs, and checks before ``CompleteMultipartUpload`` that the
parts S3 reports are exactly the declared file's — so a wrong or missing part is named while it can still be sent
again, instead of becoming a truncated object.
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass

from pydantic import BaseModel

from smmu.settings import Settings
from smmu.validation import human_bytes

CHECKSUM_ALGORITHM = "SHA256"


class PartPlanError(ValueError):
    """The file cannot be cut into parts within the limits (too many parts, a part size out of bounds)."""


@dataclass(frozen=True)
class PartPlan:
    size_bytes: int
    part_size: int

    @property
    def part_count(self) -> int:
        return -(-self.size_bytes // self.part_size)

    def size_of(self, part_number: int) -> int:
        if part_number < self.part_count:
            return self.part_size
        return self.size_bytes - self.part_size * (self.part_count - 1)


def plan_parts(size_bytes: int, settings: Settings, requested_part_size: int | None = None) -> PartPlan:
    """The part size for a file: the client's if it asked for one within the bounds, else the setting's, grown
    (up to the maximum) when the file would need more parts than allowed."""
    low, high, most = settings.multipart_min_part_bytes, settings.multipart_max_part_bytes, settings.multipart_max_parts
    if requested_part_size is not None:
        if not low <= requested_part_size <= high:
            raise PartPlanError(
                f"part_size_bytes {requested_part_size} is outside the allowed range {low}..{high} bytes "
                f"({human_bytes(low)}..{human_bytes(high)})"
            )
        plan = PartPlan(size_bytes, requested_part_size)
        if plan.part_count > most:
            raise PartPlanError(
                f"{plan.part_count} parts of {requested_part_size} bytes exceed the limit of {most} parts; "
                f"use parts of at least {-(-size_bytes // most)} bytes"
            )
        return plan
    part_size = max(settings.multipart_part_bytes, -(-size_bytes // most))
    if part_size > high:
        raise PartPlanError(f"{size_bytes} bytes need more than {most} parts of at most {high} bytes")
    return PartPlan(size_bytes, part_size)


class StoredPart(BaseModel):
    """A part as S3's ListParts reports it."""

    part_number: int
    size: int
    etag: str
    checksum_sha256: str | None = None


def is_sha256_b64(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def part_problems(plan: PartPlan, stored: list[StoredPart], claimed: dict[int, str] | None = None) -> list[str]:
    """What keeps the stored parts from being the declared file, one sentence per problem; [] if nothing.

    ``claimed``: part number -> the SHA-256 (base64) the client computed, to catch a part S3 holds from an
    earlier attempt with other bytes.
    """
    problems = []
    by_number = {part.part_number: part for part in stored}
    missing = [n for n in range(1, plan.part_count + 1) if n not in by_number]
    if missing:
        problems.append(f"missing parts: {_ranges(missing)} (of {plan.part_count})")
    extra = sorted(n for n in by_number if n > plan.part_count)
    if extra:
        problems.append(f"parts beyond the last part {plan.part_count}: {_ranges(extra)}")
    for number in sorted(by_number):
        part = by_number[number]
        if number <= plan.part_count and part.size != plan.size_of(number):
            problems.append(f"part {number} has {part.size} bytes, expected {plan.size_of(number)}")
        # S3 lists each part's checksum (some emulators list none: then S3's own check at upload time stands).
        if claimed and number in claimed and part.checksum_sha256 not in (None, claimed[number]):
            problems.append(f"part {number} has SHA-256 {part.checksum_sha256}, the client says {claimed[number]}")
    total = sum(p.size for n, p in by_number.items() if n <= plan.part_count)
    if not missing and total != plan.size_bytes:
        problems.append(f"the parts add up to {total} bytes, the declared size is {plan.size_bytes}")
    return problems


def composite_sha256(parts: list[StoredPart]) -> str | None:
    """S3's checksum of a multipart object: SHA-256 over the parts' SHA-256 digests, then ``-<part count>``;
    None when a part's checksum is not known."""
    if any(part.checksum_sha256 is None for part in parts):
        return None
    digest = hashlib.sha256()
    for part in sorted(parts, key=lambda p: p.part_number):
        digest.update(base64.b64decode(part.checksum_sha256 or ""))
    return base64.b64encode(digest.digest()).decode() + f"-{len(parts)}"


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``1-3, 7``: a compact list even when hundreds of parts are missing."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
