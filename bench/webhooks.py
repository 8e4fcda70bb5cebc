"""Webhook delivery benchmark: N image jobs, each delivered to a receiver on 127.0.0.1; how long from the job's
completion (its COMPLETED status write, server-side clock) to the signed request arriving at the receiver (same
machine, same clock), split into the job event reaching the webhooks function and the delivery itself.

Starts its own embedded stack with 127.0.0.0/8 exempt from the SSRF guard (as the e2e tests do).

    python bench/webhooks.py --jobs 40 --concurrency 2
"""

import argparse
import os
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from standardwebhooks import Webhook

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.image_pipeline import percentile, photo  # noqa: E402
from bench.reliability import Stack  # noqa: E402
from smmu_stack.devkit.webhook_receiver import WebhookReceiver, parse_time  # noqa: E402


def run_job(client: httpx.Client, data: bytes, receiver: WebhookReceiver, secret: str) -> dict:
    created = client.post(
        "/v1/uploads", json={"filename": "bench.jpg", "content_type": "image/jpeg", "size_bytes": len(data)}
    ).json()
    upload = created["upload"]
    httpx.post(
        upload["url"], data=upload["fields"], files={"file": ("bench.jpg", data, "image/jpeg")}
    ).raise_for_status()
    arrived, body, headers = receiver.first(created["job_id"])
    job = client.get(f"/v1/jobs/{created['job_id']}").json()
    Webhook(secret).verify(body, headers)  # every measured delivery is a valid one
    completed = parse_time(job["completed_at"])
    return {"job_id": job["job_id"], "completed": completed, "arrived": arrived, "delivery": arrived - completed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    data = photo(640, 480)
    stack = Stack(
        REPO_ROOT,
        {"SMMU_RATE_LIMIT_REQUESTS": "10000", "SMMU_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'},
        workers=False,
    )
    client = stack.http
    receiver = WebhookReceiver()
    try:
        hook = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["job.completed"]}).json()
        for _ in range(3):  # warm the execution environments: cold starts are not what this measures
            run_job(client, data, receiver, hook["secret"])
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(lambda _: run_job(client, data, receiver, hook["secret"]), range(args.jobs)))
        # When the webhooks function created each delivery (fanning the job event out), from the delivery log.
        created: dict[str, float] = {}
        cursor = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = client.get(f"/v1/webhooks/{hook['webhook_id']}/deliveries", params=params).json()
            created |= {d["job_id"]: parse_time(d["created_at"]) for d in page["items"]}
            if not (cursor := page["next_cursor"]):
                break
        for result in results:
            result["fan_out"] = created[result["job_id"]] - result["completed"]
            result["send"] = result["arrived"] - created[result["job_id"]]
    finally:
        stack.stop()
        receiver.stop()

    print(f"{args.jobs} image jobs, concurrency {args.concurrency}, one webhook (receiver on 127.0.0.1), "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    for label, name in (
        ("COMPLETED written -> signed request at the receiver", "delivery"),
        ("  COMPLETED written -> delivery created (fan-out)", "fan_out"),
        ("  delivery created -> request at the receiver", "send"),
    ):
        values = [r[name] for r in results]
        print(f"{label:52} p50 {statistics.median(values) * 1000:6.0f} ms   "
              f"p95 {percentile(values, 0.95) * 1000:6.0f} ms   max {max(values) * 1000:6.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
