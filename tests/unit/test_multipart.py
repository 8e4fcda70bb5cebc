"""Cutting a file into parts, and telling whether the parts S3 holds are exactly the declared file."""

import base64
import hashlib

import pytest

from smmu.multipart import PartPlan, PartPlanError, StoredPart, composite_sha256, part_problems, plan_parts
from smmu.settings import MIB, Settings

pytestmark = pytest.mark.unit
SETTINGS = Settings(multipart_part_bytes=16 * MIB, multipart_min_part_bytes=8 * MIB, multipart_max_part_bytes=64 * MIB)


def _sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_a_file_is_cut_into_parts_of_the_setting_size_with_a_shorter_last_one():
    plan = plan_parts(40 * MIB + 3, SETTINGS)
    assert (plan.part_size, plan.part_count) == (16 * MIB, 3)
    assert [plan.size_of(n) for n in (1, 2, 3)] == [16 * MIB, 16 * MIB, 8 * MIB + 3]


def test_parts_grow_when_a_file_would_need_more_than_the_part_limit():
    settings = SETTINGS.model_copy(update={"multipart_max_parts": 100})
    plan = plan_parts(3200 * MIB, settings)
    assert plan.part_count <= 100 and plan.part_size == 32 * MIB


@pytest.mark.parametrize(
    ("size", "requested", "message"),
    [
        (100 * MIB, 1 * MIB, "outside the allowed range"),
        (100 * MIB, 65 * MIB, "outside the allowed range"),
        (10_001 * 8 * MIB, 8 * MIB, "exceed the limit of 10000 parts"),
        (10_001 * 64 * MIB, None, "more than 10000 parts"),
    ],
)
def test_a_part_size_out_of_bounds_or_too_many_parts_is_refused(size, requested, message):
    with pytest.raises(PartPlanError, match=message):
        plan_parts(size, SETTINGS, requested)


def test_settings_refuse_part_bounds_that_contradict_each_other():
    with pytest.raises(ValueError, match="MIN_PART_BYTES"):
        Settings(multipart_part_bytes=4 * MIB, multipart_min_part_bytes=8 * MIB)


def _parts(sizes: list[int]) -> list[StoredPart]:
    return [
        StoredPart(part_number=n, size=size, etag=f"e{n}", checksum_sha256=_sha(bytes([n]) * size))
        for n, size in enumerate(sizes, start=1)
    ]


def test_complete_parts_have_no_problems_and_s3s_composite_checksum():
    parts = _parts([10, 10, 4])
    assert part_problems(PartPlan(24, 10), parts) == []
    expected = hashlib.sha256(b"".join(base64.b64decode(p.checksum_sha256) for p in parts)).digest()
    assert composite_sha256(parts) == base64.b64encode(expected).decode() + "-3"


def test_missing_extra_and_wrong_sized_parts_are_named():
    plan = PartPlan(45, 10)  # 5 parts
    parts = [p for p in _parts([10, 10, 10, 10, 5, 3]) if p.part_number not in (2, 3)]
    parts[0] = parts[0].model_copy(update={"size": 9})
    problems = part_problems(plan, parts)
    assert "missing parts: 2-3 (of 5)" in problems
    assert "parts beyond the last part 5: 6" in problems
    assert "part 1 has 9 bytes, expected 10" in problems


def test_parts_that_do_not_add_up_to_the_declared_size_are_refused():
    # Every part present, but the last is short: the client declared 25 bytes and sent 24.
    problems = part_problems(PartPlan(25, 10), _parts([10, 10, 4]))
    assert problems == ["part 3 has 4 bytes, expected 5", "the parts add up to 24 bytes, the declared size is 25"]


def test_a_part_with_other_bytes_than_the_client_hashed_is_named():
    parts = _parts([10, 4])
    problems = part_problems(PartPlan(14, 10), parts, claimed={1: parts[0].checksum_sha256, 2: _sha(b"other")})
    assert len(problems) == 1 and problems[0].startswith("part 2 has SHA-256")
