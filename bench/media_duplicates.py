"""Audio and video duplicates: what an identical re-upload costs against the first job, and what the perceptual
hash adds to a video job, measured against a whole embedded stack.

For each clip (a short and a longer video with speech, a speech recording) it uploads the bytes once, then
``--repeats`` more times, and reports upload complete -> COMPLETED for the first job and for the re-uploads
(completed from copies of the first job's files), with the Transcode and Transcribe steps' own durations and
how many files each re-upload copied. Then, without a stack, the stills' FFmpeg command with and without the
five perceptual-hash frames, on the longer clip.

    python bench/media_duplicates.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.reliability import Stack  # noqa: E402
from smmu_stack.devkit import worker_media as media  # noqa: E402


def clip(root: Path, name: str, size: str, seconds: float, speech: Path) -> Path:
    path = root / name
    media.ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=25", "-stream_loop", "-1", "-i", str(speech),
                 "-t", f"{seconds:g}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                 "-c:a", "aac", str(path))  # fmt: skip
    return path


def step_ms(job: dict, step: str) -> float:
    return next((e["duration_ms"] or 0.0 for e in job["timeline"] if e["step"] == step), 0.0)


def completed(stack: Stack, data: bytes, name: str, content_type: str) -> tuple[float, dict]:
    job_id, uploaded = stack.upload(data, name, content_type)
    while (job := stack.job(job_id))["status"] not in ("COMPLETED", "FAILED", "CANCELLED"):
        time.sleep(0.02)
    if job["status"] != "COMPLETED":
        raise RuntimeError(f"{name}: {job['status']} {job.get('error')}")
    return time.monotonic() - uploaded, job


def stills_cost(source: Path, work: Path, repeats: int) -> tuple[float, float]:
    """Median seconds of the stills' FFmpeg command without and with the perceptual-hash frames."""
    from workers import process
    from workers.probe import probe
    from workers.transcode import commands
    from workers.transcode.plan import fit_width, still_times
    from workers.transcode.worker import FINGERPRINT_FRAMES, FINGERPRINT_WIDTH

    info = probe(source)
    video, duration = info["video"], info["duration_seconds"]
    poster, thumbs = still_times(duration, 4)
    shots = [(poster, video["width"], video["height"], work / "poster.jpg")]
    shots += [(at, 320, 180, work / f"thumb_{i}.jpg") for i, at in enumerate(thumbs)]
    _, at = still_times(video["duration_seconds"] or duration, FINGERPRINT_FRAMES)
    width, height = fit_width(video["width"], video["height"], FINGERPRINT_WIDTH)
    prints = [(t, width, height, work / f"frame_{i}.jpg") for i, t in enumerate(at)]
    timings = []
    for chosen in (shots, shots + prints):
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            process.run(commands.stills(source, video_index=video["index"], shots=chosen), log_path=work / "log")
            runs.append(time.perf_counter() - started)
        timings.append(statistics.median(runs))
    return timings[0], timings[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="smmu-duplicates-"))
    speech = media.speech(root / "speech.wav", "Identical uploads are completed from the first job's files.")
    clips = [
        ("3 s 640x360 video", clip(root, "short.mp4", "640x360", 3, speech), "video/mp4"),
        ("20 s 1280x720 video", clip(root, "long.mp4", "1280x720", 20, speech), "video/mp4"),
        ("speech WAV", speech, "audio/wav"),
    ]
    stack = Stack(REPO_ROOT)
    rows = []
    try:
        completed(stack, media_warmup(root), "warm.mp4", "video/mp4")  # cold starts are not what this measures
        for label, path, content_type in clips:
            data = path.read_bytes()
            first, job = completed(stack, data, path.name, content_type)
            again = [completed(stack, data, path.name, content_type) for _ in range(args.repeats)]
            assert all(j["duplicate_of"] == job["job_id"] for _, j in again), "a re-upload was processed again"
            rows.append(
                f"| {label} | {len(data) / 1e6:.2f} MB | {first:.2f} s (Transcode {step_ms(job, 'Transcode'):.0f} ms, "
                f"Transcribe {step_ms(job, 'Transcribe'):.0f} ms) | {statistics.median(t for t, _ in again):.2f} s "
                f"(max {max(t for t, _ in again):.2f} s; Transcode "
                f"{statistics.median(step_ms(j, 'Transcode') for _, j in again):.0f} ms, Transcribe "
                f"{statistics.median(step_ms(j, 'Transcribe') for _, j in again):.0f} ms) | {len(job['outputs'])} |"
            )
    finally:
        stack.stop()
    print(f"| input | size | first job: upload -> COMPLETED | identical re-upload (median of {args.repeats}) "
          "| listed outputs |")  # fmt: skip
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    without, with_prints = stills_cost(clips[1][1], root, args.repeats)
    print(f"stills' FFmpeg command on the 20 s 720p clip: {without * 1000:.0f} ms without, "
          f"{with_prints * 1000:.0f} ms with the perceptual-hash frames (median of {args.repeats})")  # fmt: skip


def media_warmup(root: Path) -> bytes:
    return media.video(root / "warm.mp4", size="320x240", seconds=1).read_bytes()


if __name__ == "__main__":
    main()
