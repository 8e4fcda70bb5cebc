"""Image pipeline benchmark: N image jobs through the whole system, against Pillow run directly.

Prints median and p95 latency from upload complete to COMPLETED (server-side completion time, same clock), the
part spent inside our pipeline-step handlers vs orchestration overhead (S3 event delivery, SQS polling,
dispatcher, Step Functions, status writes), throughput in jobs/minute, and the same thumbnails made by Pillow
directly. Starts its own embedded stack unless --api-url is given.

    python bench/image_pipeline.py --jobs 50 --concurrency 4
"""

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
from PIL import Image, ImageOps

from lambdas.process_image.thumbnails import make_thumbnails, open_image
from smmu_stack.devkit import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent

HANDLER_STEPS = ("ValidateInput", "DetectType", "ProcessImage")


def photo(width: int, height: int) -> bytes:
    """A photo-like JPEG (gradients and noise compress like a real picture, unlike a flat colour)."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40)
    image = Image.merge("RGB", (gradient, noise, ImageOps.invert(gradient)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def unique(data: bytes, number: int) -> bytes:
    """The same JPEG with a comment naming the job: identical bytes would be completed as duplicates of the first
    job (its outputs reused), which is not the processing this measures (bench/image_formats.py times that)."""
    comment = f"bench job {number}".encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run_job(api: str, data: bytes, key: str) -> dict:
    with httpx.Client(base_url=api, timeout=60, headers={"Authorization": f"Bearer {key}"}) as client:
        created = client.post(
            "/v1/uploads", json={"filename": "bench.jpg", "content_type": "image/jpeg", "size_bytes": len(data)}
        ).json()
        upload = created["upload"]
        sent = httpx.post(upload["url"], data=upload["fields"], files={"file": ("bench.jpg", data, "image/jpeg")})
        sent.raise_for_status()
        uploaded_at = time.time()
        while True:
            job = client.get(f"/v1/jobs/{created['job_id']}").json()
            if job["status"] in ("COMPLETED", "FAILED"):
                break
            time.sleep(0.05)
    if job["status"] != "COMPLETED":
        raise RuntimeError(f"job failed: {job['error']}")
    latency = parse_time(job["completed_at"]) - uploaded_at
    at = {e["step"]: parse_time(e["at"]) for e in job["timeline"]}
    phases = {
        "upload -> UploadReceived (S3 event, SQS, dispatcher)": at["UploadReceived"] - uploaded_at,
        "UploadReceived -> Started (StartExecution, MarkRunning)": at["Started"] - at["UploadReceived"],
        "Started -> ProcessImage done (3 steps)": at["ProcessImage"] - at["Started"],
        "ProcessImage done -> COMPLETED (MarkCompleted)": at["Completed"] - at["ProcessImage"],
    }
    handler_ms = sum(e["duration_ms"] or 0 for e in job["timeline"] if e["step"] in HANDLER_STEPS)
    process_ms = next(e["duration_ms"] for e in job["timeline"] if e["step"] == "ProcessImage")
    return {"latency": latency, "handler": handler_ms / 1000, "process": process_ms / 1000, "phases": phases}


def pillow_direct(data: bytes, widths: tuple[int, ...], repeats: int) -> float:
    """Median seconds for the same thumbnails made by calling the processing code on a local file."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "source.jpg"
        path.write_bytes(data)
        for _ in range(repeats):
            started = time.perf_counter()
            with open_image(path, 80_000_000) as image:
                make_thumbnails(image, widths)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def pillow_plain(data: bytes, widths: tuple[int, ...], repeats: int) -> float:
    """Median seconds for naive Pillow: decode at full size, resize to each width, save JPEG."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        for width in widths:
            resized = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
            resized.save(io.BytesIO(), "JPEG", quality=85)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--width", type=int, default=3000)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--api-url", help="Benchmark a running stack instead of starting an embedded one")
    parser.add_argument("--api-key", default=os.environ.get("SMMU_API_KEY"), help="For --api-url (SMMU_API_KEY)")
    args = parser.parse_args()

    data = photo(args.width, args.height)
    stack = None
    api = args.api_url
    if api is None:
        api_port, emulator_port = free_port(), free_port()
        work_dir = Path(tempfile.mkdtemp(prefix="smmu-bench-"))
        stack = subprocess.Popen(
            # The clients poll every 50 ms: well above the default per-tenant request rate.
            [sys.executable, "-m", "smmu_stack.cli", "dev", "--api-port", str(api_port),
             "--emulator-port", str(emulator_port), "--work-dir", str(work_dir),
             "--set", "SMMU_RATE_LIMIT_REQUESTS=10000"],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        api = f"http://127.0.0.1:{api_port}"
        for _ in range(600):
            try:
                if httpx.get(f"{api}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        args.api_key = (work_dir / "api-key").read_text().strip()
    key = args.api_key
    try:
        for number in range(3):  # warm the execution environments: cold starts are measured elsewhere
            run_job(api, unique(data, -1 - number), key)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(lambda number: run_job(api, unique(data, number), key), range(args.jobs)))
        wall = time.perf_counter() - started
    finally:
        if stack is not None:
            stack.terminate()
            stack.wait(timeout=60)  # the worker services get a grace period to finish

    latencies = [r["latency"] for r in results]
    handlers = [r["handler"] for r in results]
    overheads = [r["latency"] - r["handler"] for r in results]
    process = statistics.median(r["process"] for r in results)
    widths = (160, 320, 640)
    direct = pillow_direct(data, widths, 5)
    plain = pillow_plain(data, widths, 5)
    print(f"image: {args.width}x{args.height} JPEG, {len(data) / 1e6:.2f} MB; {args.jobs} jobs, "
          f"concurrency {args.concurrency}, python {sys.version.split()[0]}")  # fmt: skip
    print(f"{'upload complete -> COMPLETED':38} median {statistics.median(latencies) * 1000:7.0f} ms   "
          f"p95 {percentile(latencies, 0.95) * 1000:7.0f} ms")  # fmt: skip
    print(f"{'  inside our step handlers':38} median {statistics.median(handlers) * 1000:7.0f} ms   "
          f"p95 {percentile(handlers, 0.95) * 1000:7.0f} ms")  # fmt: skip
    print(f"{'  orchestration overhead':38} median {statistics.median(overheads) * 1000:7.0f} ms   "
          f"p95 {percentile(overheads, 0.95) * 1000:7.0f} ms")  # fmt: skip
    for phase in results[0]["phases"]:
        values = [r["phases"][phase] for r in results]
        print(f"    {phase:56} median {statistics.median(values) * 1000:6.0f} ms")
    print(f"{'throughput':38} {args.jobs / wall * 60:7.0f} jobs/minute")
    print(f"{'ProcessImage step (median)':38} {process * 1000:7.0f} ms")
    print(f"{'same code on a local file (median)':38} {direct * 1000:7.0f} ms   step/direct = {process / direct:.2f}x")
    print(f"{'naive Pillow, full decode (median)':38} {plain * 1000:7.0f} ms   step/naive = {process / plain:.2f}x")


if __name__ == "__main__":
    main()
