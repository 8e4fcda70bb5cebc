"""job.progress webhook benchmark: N video jobs, one after another, each transcoded by the embedded stack's worker
with one endpoint (a receiver on 127.0.0.1) subscribed to ``job.progress`` and ``job.completed``. Per job: the
progress reports the job recorded (its SSE log), the steps announced, the deliveries sent and skipped, how long a
progress event took from the report (its ``at``) to the signed request at the receiver, whether any progress
arrived after the job's ``job.completed``, and then how long ``DELETE /v1/jobs/{id}`` took and how many delivery
records it removed.

Starts its own embedded stack (with its workers) with 127.0.0.0/8 exempt from the SSRF guard, as the e2e tests do.

    python bench/webhook_progress.py --jobs 5 --seconds 30
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks import Webhook

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.image_pipeline import percentile  # noqa: E402
from bench.reliability import Stack  # noqa: E402
from smmu.webhooks import progress_step  # noqa: E402
from smmu_stack.devkit import worker_media  # noqa: E402
from smmu_stack.devkit.webhook_receiver import WebhookReceiver, parse_time  # noqa: E402


def progress_reports(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    """The job's progress events, from its (ended, so closing) SSE stream."""
    reports, kind = [], None
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind == "progress":
                reports.append(json.loads(line.split(":", 1)[1]))
    return reports


def run_job(client: httpx.Client, clip: Path, receiver: WebhookReceiver, hook: dict[str, Any], step: float) -> dict:
    created = client.post(
        "/v1/uploads",
        json={
            "filename": "bench.mp4",
            "content_type": "video/mp4",
            "size_bytes": clip.stat().st_size,
            "options": {"ladder": [360], "hls": False, "transcribe": False},
        },
    ).json()
    upload = created["upload"]
    files = {"file": ("bench.mp4", clip.read_bytes(), "video/mp4")}
    httpx.post(upload["url"], data=upload["fields"], files=files, timeout=60).raise_for_status()
    job_id = created["job_id"]
    deadline = time.monotonic() + 300
    while (job := client.get(f"/v1/jobs/{job_id}").json())["status"] not in ("COMPLETED", "FAILED", "CANCELLED"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} did not end")
        time.sleep(0.2)
    if job["status"] != "COMPLETED":
        raise RuntimeError(f"job {job_id} {job['status']}: {job['error']}")
    while not any(json.loads(a[1])["type"] == "job.completed" for a in receiver.of(job_id)):
        time.sleep(0.1)
    time.sleep(3)  # whatever progress is still on its way
    arrivals = receiver.of(job_id)
    verified = [(at, Webhook(hook["secret"]).verify(body, headers)) for at, body, headers in arrivals]
    completed_at = next(at for at, p in verified if p["type"] == "job.completed")
    progress = [(at, p["data"]) for at, p in verified if p["type"] == "job.progress"]
    reports = progress_reports(client, job_id)
    steps = {(r["progress"]["stage"], progress_step(r["progress"]["percent"], step)) for r in reports}
    records = [
        d
        for d in client.get(f"/v1/webhooks/{hook['webhook_id']}/deliveries", params={"limit": 100}).json()["items"]
        if d["job_id"] == job_id and d["event_type"] == "job.progress"
    ]
    started = time.perf_counter()
    deleted = client.delete(f"/v1/jobs/{job_id}")
    delete_ms = (time.perf_counter() - started) * 1000
    deleted.raise_for_status()
    return {
        "reports": len(reports),
        "steps": len(steps),
        "delivered": len(progress),
        "skipped": sum(1 for d in records if d["state"] == "skipped"),
        "records": len(records),
        "latencies": [at - parse_time(data["at"]) for at, data in progress],
        "after_completed": sum(1 for at, _ in progress if at > completed_at),
        "percents": [data["progress"]["percent"] for _, data in sorted(progress, key=lambda p: p[1]["at"])],
        "delete_ms": delete_ms,
        "removed": deleted.json()["webhook_deliveries_removed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30, help="length of the 640x360 test clip")
    parser.add_argument("--step", type=float, default=10, help="SMMU_WEBHOOK_PROGRESS_STEP_PERCENT")
    parser.add_argument("--interval", type=float, default=2, help="SMMU_WORKER_PROGRESS_INTERVAL_SECONDS")
    args = parser.parse_args()

    work_dir = Path(tempfile.mkdtemp(prefix="smmu-bench-progress-"))
    clip = worker_media.video(work_dir / "clip.mp4", size="640x360", seconds=args.seconds)
    stack = Stack(
        REPO_ROOT,
        {
            "SMMU_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
            "SMMU_WEBHOOK_PROGRESS_STEP_PERCENT": f"{args.step:g}",
            "SMMU_WORKER_PROGRESS_INTERVAL_SECONDS": f"{args.interval:g}",
            # The same clip every time: each job must be transcoded, not completed from the first one's files.
            "SMMU_WORKER_REUSE_DUPLICATES": "false",
        },
    )
    receiver = WebhookReceiver()
    results = []
    try:
        client = stack.http
        hook = client.post(
            "/v1/webhooks",
            json={"url": receiver.url, "events": ["job.progress", "job.completed"]},
        ).json()
        run_job(client, clip, receiver, hook, args.step)  # warm-up: cold starts are not what this measures
        for _ in range(args.jobs):
            results.append(run_job(client, clip, receiver, hook, args.step))
    finally:
        stack.stop()
        receiver.stop()

    print(f"{args.jobs} video jobs ({args.seconds:g} s 640x360 clip, transcode only), step {args.step:g} %, "
          f"worker reports at most every {args.interval:g} s, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    for n, r in enumerate(results, 1):
        print(f"job {n}: {r['reports']} reports, {r['steps']} steps, {r['delivered']} delivered "
              f"{r['percents']}, {r['skipped']} skipped, {r['after_completed']} after job.completed; "
              f"DELETE {r['delete_ms']:.0f} ms removed {r['removed']} records")  # fmt: skip
    latencies = [value for r in results for value in r["latencies"]]
    if latencies:
        print(f"progress report -> signed request at the receiver: p50 {statistics.median(latencies) * 1000:.0f} ms"
              f"   p95 {percentile(latencies, 0.95) * 1000:.0f} ms   max {max(latencies) * 1000:.0f} ms"
              f"   ({len(latencies)} deliveries)")  # fmt: skip
    delete = [r["delete_ms"] for r in results]
    print(f"DELETE /v1/jobs/{{id}}: p50 {statistics.median(delete):.0f} ms, max {max(delete):.0f} ms")


if __name__ == "__main__":
    main()
