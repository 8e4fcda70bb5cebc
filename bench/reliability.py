"""Reliability figures: each fault of the reliability issue, measured against a whole embedded stack.

For every case it prints what happened (status, step, code), how long it took and, for the image step, the peak
memory of the function's execution environment (VmHWM of its process: a fresh environment per case). Cases:

- images at the pixel limit: an 8900x8900 RGBA PNG, a 79-Mpx JPEG, a 5000-frame GIF, and four 8900^2 PNGs at once
  (peak per environment and summed);
- hostile and odd media: truncated PNG, zTXt bomb, 1-frame video, a 3 s MP4 whose header claims 4,294,967 s;
- the image function's environment SIGKILLed mid-invocation;
- a media worker SIGKILLed mid-transcode: seconds until its task runs again, orphaned FFmpeg, scratch left;
- optionally the 100 duplicated S3 events and the 500-job burst (``--burst``).

    python bench/reliability.py                      # this tree
    python bench/reliability.py --tree ../old-tree   # another checkout (a "before"), same environment

Output: a Markdown table per section (docs/reliability.md quotes it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from smmu_stack.devkit import free_port
from smmu_stack.devkit import image_media as images
from smmu_stack.devkit import worker_media as media
from smmu_stack.devkit.processes import cpu_ticks, parent, processes, status_field

REPO_ROOT = Path(__file__).resolve().parent.parent

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


class Stack:
    """An embedded stack (``smmu dev``) of ``tree`` in a process of its own, with ``settings`` overridden
    (``--set``) and, unless ``workers`` is false, its media workers; ``http`` is a client signed in as the dev
    tenant."""

    def __init__(self, tree: Path, settings: dict[str, str] | None = None, *, workers: bool = True) -> None:
        self.tree = tree
        self.work_dir = Path(tempfile.mkdtemp(prefix="smmu-reliability-"))
        api_port, self.emulator_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{api_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "SMMU_"))}
        env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PYTHONPATH": str(tree)})
        self.log = open(self.work_dir / "smmu-dev.log", "wb")  # noqa: SIM115 - closed in stop()
        overrides = [arg for name, value in (settings or {}).items() for arg in ("--set", f"{name}={value}")]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "smmu_stack.cli", "dev", "--api-port", str(api_port),
             "--emulator-port", str(self.emulator_port), "--work-dir", str(self.work_dir),
             *([] if workers else ["--no-workers"]), *overrides],
            cwd=tree, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.http = httpx.Client(base_url=self.api, timeout=60)
        deadline = time.monotonic() + 180
        while True:
            try:
                if self.http.get("/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the stack did not start; see {self.work_dir / 'smmu-dev.log'}")
            time.sleep(0.3)
        key_file = self.work_dir / "api-key"  # the dev tenant's key, where the stack writes one
        if key_file.is_file():
            self.http.headers["Authorization"] = f"Bearer {key_file.read_text().strip()}"

    def upload(self, data: bytes, filename: str, content_type: str) -> tuple[str, float]:
        request = {"filename": filename, "content_type": content_type, "size_bytes": len(data)}
        while (created := self.http.post("/v1/uploads", json=request)).status_code == 429:
            time.sleep(0.5)  # the tenant's quota of active jobs: wait, as a client should
        created.raise_for_status()
        body = created.json()
        sent = httpx.post(body["upload"]["url"], data=body["upload"]["fields"],
                          files={"file": (filename, data, content_type)}, timeout=120)  # fmt: skip
        sent.raise_for_status()
        return body["job_id"], time.monotonic()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.http.get(f"/v1/jobs/{job_id}").json()

    def wait(self, job_id: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (job := self.job(job_id))["status"] not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.2)
        return job

    def client(self, service: str) -> Any:
        import boto3

        session = boto3.session.Session(
            region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        return session.client(service, endpoint_url=f"http://127.0.0.1:{self.emulator_port}")

    def history(self, job_id: str) -> list[dict[str, Any]]:
        """The job's execution history: each TaskFailed's error and cause."""

        sfn = self.client("stepfunctions")
        machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
        arn = f"{machine.replace(':stateMachine:', ':execution:')}:{job_id}"
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# -- processes ---------------------------------------------------------------------------------------------


def image_runtimes(stack: Stack) -> list[int]:
    """This stack's ProcessImage environments only (other stacks on the machine run the same function name):
    their working directory is the function's code under this stack's work directory."""
    mine = []
    for pid in processes(b"lambda_runtime.py", b"AWS_LAMBDA_FUNCTION_NAME=smmu-process-image"):
        try:
            if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(stack.work_dir):
                mine.append(pid)
        except OSError:
            continue
    return mine


# -- cases -------------------------------------------------------------------------------------------------


def outcome(job: dict[str, Any]) -> str:
    error = job.get("error") or {}
    return job["status"] + (f" {error.get('step')}/{error.get('code')}" if error else "")


def step_ms(job: dict[str, Any], step: str) -> float | None:
    return next((e["duration_ms"] for e in job["timeline"] if e["step"] == step and e["duration_ms"]), None)


def image_memory(stack: Stack, name: str, data: bytes, content_type: str, copies: int = 1) -> dict[str, Any]:
    for pid in image_runtimes(stack):  # a fresh environment per case: VmHWM is the peak of this case alone
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    with ThreadPoolExecutor(copies) as pool:
        uploads = list(pool.map(lambda i: stack.upload(data, f"{i}-{name}", content_type), range(copies)))
    jobs = [stack.wait(job_id) for job_id, _ in uploads]
    peaks = [int(status_field(pid, "VmHWM").split()[0]) // 1024 for pid in image_runtimes(stack)]
    return {
        "case": f"{name}" + (f" x{copies} at once" if copies > 1 else ""),
        "size": f"{len(data) / 1e6:.2f} MB",
        "outcome": ", ".join(sorted({outcome(j) for j in jobs})),
        "ProcessImage ms": round(max(step_ms(j, "ProcessImage") or 0 for j in jobs)),
        "peak MB per environment": max(peaks, default=0),
        "peak MB summed": sum(peaks),
    }


def hostile(stack: Stack, name: str, data: bytes, content_type: str) -> dict[str, Any]:
    job_id, uploaded = stack.upload(data, name, content_type)
    job = stack.wait(job_id)
    return {
        "case": name,
        "outcome": outcome(job),
        "failed task attempts": len(stack.history(job_id)),  # each one, retried or not
        "seconds": round(time.monotonic() - uploaded, 1),
    }


def kill_image_function(stack: Stack) -> dict[str, Any]:
    job_id, uploaded = stack.upload(images.big_png(6000, 6000), "victim.png", "image/png")
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline:
        runtimes = image_runtimes(stack)
        before = {pid: cpu_ticks(pid) for pid in runtimes}
        time.sleep(0.2)
        victim = next((pid for pid in runtimes if cpu_ticks(pid) >= before[pid] + 4), None)  # busy: our image
    if victim is not None:
        os.kill(victim, signal.SIGKILL)
    job = stack.wait(job_id)
    crashes = [e for e in stack.history(job_id) if e.get("error") == "Runtime.ExitError"]
    return {"case": "image function SIGKILLed mid-invocation", "outcome": outcome(job),
            "seconds": round(time.monotonic() - uploaded, 1), "killed": victim is not None,
            "environment crashes seen by the state machine": len(crashes)}  # fmt: skip


def kill_worker(stack: Stack, tmp: Path) -> dict[str, Any]:
    state_file = stack.work_dir / "services" / "smmu-transcode-worker.json"
    [victim] = json.loads(state_file.read_text())["pids"]
    system_tmp = Path(tempfile.gettempdir())
    before = {p.name for p in system_tmp.glob("smmu-transcode-*")}  # where the old runtime put its temp dirs
    job_id, _ = stack.upload(media.video(tmp / "long.mp4", size="1280x720", seconds=30).read_bytes(),
                             "long.mp4", "video/mp4")  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tools := [p for p in processes(b"ffmpeg") if parent(p) == victim]) and time.monotonic() < deadline:
        time.sleep(0.1)
    scratch = [p for p in system_tmp.glob("smmu-transcode-*") if p.name not in before]
    scratch += list((stack.work_dir / "scratch" / "smmu-transcode").glob(f"{victim}-*"))
    killed = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    time.sleep(2)
    orphans = [p for p in tools if Path(f"/proc/{p}").exists() and status_field(p, "State")[:1] != "Z"]
    rerun = None
    while rerun is None and time.monotonic() - killed < 300:
        try:
            workers = set(json.loads(state_file.read_text())["pids"]) - {victim}
        except (OSError, ValueError):
            workers = set()
        if [p for p in processes(b"ffmpeg") if p not in tools and parent(p) in workers]:
            rerun = time.monotonic() - killed
        time.sleep(0.1)
    job = stack.wait(job_id)
    done = time.monotonic() - killed
    left = [path for path in scratch if path.exists()]
    for pid in orphans:  # the bench cleans up what the old code leaves running
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return {
        "case": "transcode worker SIGKILLed mid-task",
        "outcome": outcome(job),
        "kill -> task running again (s)": round(rerun, 1) if rerun else "not within 300 s",
        "kill -> COMPLETED (s)": round(done, 1),
        "orphaned ffmpeg": len(orphans),
        "scratch left": f"{len(left)} of {len(scratch)}",
    }


def burst(stack: Stack, count: int, duplicates: int) -> list[dict[str, Any]]:
    rows = []
    data = images.flat(48, 32)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        ids = [job_id for job_id, _ in pool.map(lambda i: stack.upload(data, f"b{i}.jpg", "image/jpeg"), range(count))]
        jobs = list(pool.map(lambda j: stack.wait(j, 1200), ids))
    statuses = [j["status"] for j in jobs]
    rows.append({"case": f"burst of {count} small image jobs", "completed": statuses.count("COMPLETED"),
                 "not terminal": sum(s not in TERMINAL for s in statuses),
                 "seconds": round(time.monotonic() - started)})  # fmt: skip
    if duplicates:
        sqs, sfn = stack.client("sqs"), stack.client("stepfunctions")
        with ThreadPoolExecutor(8) as pool:
            ids = [j for j, _ in pool.map(lambda i: stack.upload(data, f"d{i}.jpg", "image/jpeg"), range(duplicates))]
        queue = sqs.get_queue_url(QueueName="smmu-jobs")["QueueUrl"]
        for i, job_id in enumerate(ids):
            record = {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Post",
                "s3": {"bucket": {"name": "smmu-raw"}, "object": {"key": f"uploads/{job_id}/d{i}.jpg", "size": 100}},
            }
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"Records": [record]}))  # a second delivery
        with ThreadPoolExecutor(8) as pool:
            jobs = list(pool.map(lambda j: stack.wait(j, 600), ids))
        machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
        names = [e["name"] for p in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
                 for e in p["executions"]]  # fmt: skip
        rows.append({"case": f"{duplicates} jobs, each S3 event delivered twice",
                     "completed": sum(j["status"] == "COMPLETED" for j in jobs),
                     "executions": sum(names.count(j) for j in ids)})  # fmt: skip
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=REPO_ROOT, help="checkout whose stack to measure")
    parser.add_argument("--burst", type=int, default=0, help="also run a burst of this many small image jobs")
    parser.add_argument("--duplicates", type=int, default=0, help="and this many jobs with duplicated S3 events")
    parser.add_argument("--cases", default="memory,odd,faults", help="which sections: memory, odd, faults")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="smmu-reliability-media-"))
    big_png = images.big_png()
    stack = Stack(args.tree.resolve())
    print(f"tree: {args.tree.resolve().name}, python {sys.version.split()[0]}, {os.cpu_count()} cores\n", flush=True)

    def show(title: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            print(f"### {title}\n\n{table(rows)}\n", flush=True)

    try:
        stack.wait(stack.upload(images.flat(64, 48), "warm.jpg", "image/jpeg")[0])
        memory = (
            []
            if "memory" not in cases
            else [
                image_memory(stack, "8900x8900 RGBA PNG", big_png, "image/png"),
                image_memory(stack, "10000x7900 JPEG (79 Mpx)", images.big_jpeg(), "image/jpeg"),
                image_memory(stack, "5000-frame GIF", images.long_gif(), "image/gif"),
                image_memory(stack, "8900x8900 RGBA PNG", big_png, "image/png", copies=4),
            ]
        )
        show("Image step memory", memory)
        odd = (
            []
            if "odd" not in cases
            else [
                hostile(
                    stack,
                    "truncated.png",
                    images.truncated(images.flat(1200, 800, "PNG", (0, 128, 0, 128))),
                    "image/png",
                ),
                hostile(stack, "ztxt-bomb.png", images.png_with_ztxt_bomb(), "image/png"),
                hostile(stack, "1x4000.png", images.flat(1, 4000, "PNG"), "image/png"),
                hostile(stack, "one-frame.mp4", media.one_frame(tmp / "one.mp4").read_bytes(), "video/mp4"),
                hostile(
                    stack,
                    "lying-duration.mp4",
                    media.lying_duration(
                        media.video(tmp / "v.mp4", size="320x240", seconds=3), tmp / "liar.mp4"
                    ).read_bytes(),
                    "video/mp4",
                ),
                hostile(stack, "audio-only.mp4", media.audio_only_mp4(tmp / "a.mp4").read_bytes(), "video/mp4"),
                hostile(
                    stack,
                    "192k-8ch.wav",
                    media.tone_at(tmp / "t.wav", rate=192000, channels=8).read_bytes(),
                    "audio/wav",
                ),
            ]
        )
        show("Hostile and odd media", odd)
        show("Killed processes", [kill_image_function(stack), kill_worker(stack, tmp)] if "faults" in cases else [])
        show("Duplicates and bursts", burst(stack, args.burst, args.duplicates) if args.burst else [])
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
