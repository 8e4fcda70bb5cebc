"""Perceptual distances: images (one dHash) and videos (one per frame, compared frame by frame)."""

import pytest

from smmu.jobs import Job, JobStatus
from smmu.similar import distance, find_similar, hamming, join_frames

pytestmark = pytest.mark.unit

ONES = "f" * 32


def _bits_off(bits: int) -> str:
    """ONES with its lowest ``bits`` bits cleared: that many bits away from it."""
    return f"{int(ONES, 16) & ~((1 << bits) - 1):032x}"


def _job(job_id: str, phash: str | None, sha: str | None = None, created: str = "2026-01-01T00:00:00Z") -> Job:
    return Job(
        job_id=job_id,
        tenant_id="t",
        filename=f"{job_id}.mp4",
        content_type="video/mp4",
        size_bytes=1,
        status=JobStatus.COMPLETED,
        raw_bucket="raw",
        raw_key=f"uploads/{job_id}/f",
        created_at=created,
        updated_at=created,
        upload_expires_at=created,
        perceptual_hash=phash,
        sha256=sha,
    )


def test_an_image_distance_is_the_hamming_distance():
    assert distance(ONES, _bits_off(7)) == hamming(ONES, _bits_off(7)) == 7
    assert distance(ONES, ONES) == 0


def test_a_video_distance_is_the_mean_over_its_frames_rounded_up():
    video = join_frames([ONES] * 5)
    assert distance(video, join_frames([_bits_off(b) for b in (2, 2, 2, 2, 2)])) == 2
    assert distance(video, join_frames([_bits_off(b) for b in (0, 0, 0, 0, 10)])) == 2  # one changed frame
    # A mean of 1.2 is more than 1: rounded up, so "distance <= 1" stays false.
    assert distance(video, join_frames([_bits_off(b) for b in (1, 1, 1, 1, 2)])) == 2
    assert distance(video, join_frames([_bits_off(b) for b in (64, 64, 64, 64, 64)])) == 64


def test_an_image_and_a_video_or_videos_of_other_frame_counts_are_not_compared():
    assert distance(ONES, join_frames([ONES] * 5)) is None
    assert distance(join_frames([ONES] * 3), join_frames([ONES] * 5)) is None
    assert distance(ONES, "f" * 16) is None  # another hash size


def test_find_similar_matches_videos_with_videos_only():
    video = _job("v", join_frames([ONES] * 5), sha="a")
    near = _job("near", join_frames([_bits_off(3)] * 5), sha="b")
    far = _job("far", join_frames([_bits_off(40)] * 5), sha="c")
    image = _job("image", ONES, sha="d")  # its hash equals the video's first frame
    same = _job("same", video.perceptual_hash, sha="a")
    found = find_similar(video, [video, near, far, image, same], max_distance=12)
    assert [(m.job.job_id, m.distance) for m in found.near] == [("near", 3)]
    assert [(m.job.job_id, m.distance) for m in found.exact] == [("same", 0)]
    assert find_similar(image, [video, near, image], max_distance=128).near == []
