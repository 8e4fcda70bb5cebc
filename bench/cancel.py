"""Cancel latency: how soon a cancelled job's media tools stop, measured against a whole embedded stack.

For each run it uploads a clip, waits until the worker's tool is busy with it (FFmpeg under the transcode worker,
or the transcribe worker decoding speech), cancels the job through the API and measures:

- the API's answer time (the job CANCELLED, its execution stopped, its outputs removed);
- from that answer until the worker's tool is gone (FFmpeg, or the process Whisper runs in, killed) and the
  task's message deleted from its queue (the worker dropped the task rather than leaving it to be redelivered);
- what is left under the job's output prefix afterwards (every version): it must be nothing.

    python bench/cancel.py             # 5 runs per worker
    python bench/cancel.py --runs 10

Output: a Markdown table (docs/lifecycle.md quotes it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.reliability import Stack  # noqa: E402
from smmu_stack.devkit import worker_media as media  # noqa: E402
from smmu_stack.devkit.processes import parent, processes  # noqa: E402


def worker_pids(stack: Stack, worker: str) -> set[int]:
    state = stack.work_dir / "services" / f"smmu-{worker}-worker.json"
    return set(json.loads(state.read_text())["pids"])


def in_flight(stack: Stack, worker: str) -> int:
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=f"smmu-{worker}-tasks")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


def busy(stack: Stack, worker: str) -> bool:
    """The worker is at work on a task: its message is taken and (transcode) FFmpeg runs under it."""
    if not in_flight(stack, worker):
        return False
    pids = worker_pids(stack, worker)
    # The tool is a child of the worker: FFmpeg, or the process Whisper runs in (a cancel kills it; the next
    # task starts a new one).
    tool = b"ffmpeg" if worker == "transcode" else b"multiprocessing.spawn"
    return any(parent(p) in pids for p in processes(tool))


def left(stack: Stack, job_id: str) -> int:
    page = stack.client("s3").list_object_versions(Bucket="smmu-processed", Prefix=f"jobs/{job_id}/")
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))


def one(stack: Stack, worker: str, clip: Path) -> dict[str, float]:
    job_id, _ = stack.upload(clip.read_bytes(), clip.name, "video/mp4")
    deadline = time.monotonic() + 120
    while not busy(stack, worker):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{worker} never got busy with {job_id}: {stack.job(job_id)['status']}")
        time.sleep(0.05)
    time.sleep(1.0)  # well into the work
    sent = time.monotonic()
    answer = stack.http.post(f"/v1/jobs/{job_id}/cancel")
    answered = time.monotonic()
    answer.raise_for_status()
    while busy(stack, worker) or in_flight(stack, worker):
        if time.monotonic() - answered > 60:
            raise RuntimeError(f"{worker} did not stop for {job_id}")
        time.sleep(0.02)
    stopped = time.monotonic()
    time.sleep(2.0)  # anything late (a last upload, a late status update) would land by now
    job = stack.job(job_id)
    return {
        "api_ms": (answered - sent) * 1000,
        "stop_s": stopped - answered,
        "left": left(stack, job_id),
        "cancelled": float(job["status"] == "CANCELLED"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    clips = Path(tempfile.mkdtemp(prefix="smmu-cancel-"))
    # Transcode: a 30 s 720p clip without sound (the transcript is done at once). Transcribe: a long talk.
    video = media.video(clips / "long.mp4", size="1280x720", seconds=30, audio=False)
    speech = media.speech(clips / "speech.wav")
    talk = clips / "talk.mp4"
    media.ffmpeg("-f", "lavfi", "-i", "color=c=black:s=320x240:r=5:d=120", "-stream_loop", "-1",
                 "-i", str(speech), "-t", "120", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                 str(talk))  # fmt: skip
    stack = Stack(REPO_ROOT)
    rows = []
    try:
        for worker, clip in (("transcode", video), ("transcribe", talk)):
            runs = [one(stack, worker, clip) for _ in range(args.runs)]
            stops = sorted(r["stop_s"] for r in runs)
            rows.append(
                f"| {worker} | {len(runs)} | {statistics.median(r['api_ms'] for r in runs):.0f} ms | "
                f"{statistics.median(stops):.2f} s | {stops[-1]:.2f} s | {sum(r['left'] for r in runs):.0f} | "
                f"{sum(r['cancelled'] for r in runs):.0f}/{len(runs)} |"
            )
    finally:
        stack.stop()
    print("| worker | runs | cancel answered (p50) | tool stopped and task dropped (p50) | (max) | files left | "
          "CANCELLED after 2 s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
