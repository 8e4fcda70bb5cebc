"""Chaos: hostile inputs, killed function environments and workers, duplicated events and bursts — every job ends
where it should, with the right code, within a bound, and nothing is left behind.

Bounded in count and time. Runs against the embedded target; the tests that kill processes skip elsewhere.
"""

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from smmu_stack.devkit import worker_media as media
from smmu_stack.devkit.processes import cpu_ticks, cwd, parent, processes
from tests import media as images
from tests.e2e.conftest import TARGET
from tests.e2e.test_delivery_and_faults import _s3_event

pytestmark = pytest.mark.e2e

#: From a worker's SIGKILL to its task running again (issue: at most 45 s).
FAILOVER_BOUND_SECONDS = 45


def _processed_keys(target, job_id: str) -> list[str]:
    bucket = target.manifest.buckets["processed"]["name"]
    pages = target.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"jobs/{job_id}/")
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _file(tmp_path: Path, name: str, make) -> bytes:
    return make(tmp_path / name).read_bytes()


# (name, content type, data maker, expected status, expected step, expected code)
HOSTILE = [
    ("truncated.png", "image/png", lambda p: images.truncated(images.png_with_alpha(1200, 800)),
     "FAILED", "ProcessImage", "CORRUPT_MEDIA"),
    ("ztxt-bomb.png", "image/png", lambda p: images.png_with_ztxt_bomb(),
     "FAILED", "ProcessImage", "CORRUPT_MEDIA"),
    ("truncated.jpg", "image/jpeg", lambda p: images.truncated(images.jpeg(1200, 800)),
     "FAILED", "ProcessImage", "CORRUPT_MEDIA"),
    ("not-media.mp4", "video/mp4", lambda p: b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000),
     "FAILED", "ProcessMedia", "CORRUPT_MEDIA"),
    ("truncated.mp4", "video/mp4", lambda p: media.truncated(media.video(p / "v.mp4", size="640x360"), p / "t.mp4")
     .read_bytes(), "FAILED", "ProcessMedia", "CORRUPT_MEDIA"),
    ("one-frame.mp4", "video/mp4", lambda p: media.one_frame(p / "one.mp4").read_bytes(), "COMPLETED", None, None),
    ("liar.mp4", "video/mp4",
     lambda p: media.lying_duration(media.video(p / "v.mp4", size="320x240"), p / "liar.mp4").read_bytes(),
     "COMPLETED", None, None),
    ("sliver.mp4", "video/mp4", lambda p: media.sliver(p / "s.mp4", width=1, height=96).read_bytes(),
     "COMPLETED", None, None),
    ("audio-only.mp4", "video/mp4", lambda p: media.audio_only_mp4(p / "a.mp4").read_bytes(), "COMPLETED", None, None),
    ("8k.wav", "audio/wav", lambda p: media.tone_at(p / "8k.wav", rate=8000, channels=1).read_bytes(),
     "COMPLETED", None, None),
    ("192k-8ch.wav", "audio/wav", lambda p: media.tone_at(p / "hi.wav", rate=192000, channels=8).read_bytes(),
     "COMPLETED", None, None),
    ("1x4000.png", "image/png", lambda p: _png(1, 4000), "COMPLETED", None, None),
    ("4000x1.png", "image/png", lambda p: _png(4000, 1), "COMPLETED", None, None),
]  # fmt: skip


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 30, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def test_hostile_and_odd_inputs_end_as_expected(client, target, tmp_path):
    """Uploaded together (as a tester would), each ends with its expected status, step and code."""
    jobs = {}
    for name, content_type, make, *expected in HOSTILE:
        folder = tmp_path / name
        folder.mkdir()
        job_id, sent = client.upload(make(folder), name, content_type)
        assert sent.status_code < 300, sent.text
        jobs[name] = (job_id, expected)
    outcomes = {}
    for name, (job_id, _) in jobs.items():
        job = client.wait(job_id, timeout=180)
        error = job.get("error") or {}
        outcomes[name] = (job["status"], error.get("step"), error.get("code"))
    assert outcomes == {name: tuple(expected) for name, (_, expected) in jobs.items()}
    for name, (job_id, (status, *_)) in jobs.items():
        if status == "FAILED":
            assert _processed_keys(target, job_id) == [], name
            # Bad input is never retried: the failing step ran once.
            failed = [e["step"] for e in client.job(job_id)["timeline"] if e["outcome"] == "failed"]
            assert failed and len(failed) == len(set(failed)), (name, failed)


# -- killed processes (embedded target) --------------------------------------------------------------------


def test_a_function_environment_killed_mid_invocation_is_retried_and_the_job_completes(client, target):
    if target.work_dir is None:
        pytest.skip("needs the embedded target, whose function environments the test can kill")
    function = target.manifest.functions["process_image"]["name"]
    job_id, _ = client.upload(images.big_png(6000, 6000), "big.png", "image/png")
    runtimes: list[int] = []
    deadline = time.monotonic() + 60
    victim = None
    while victim is None:
        assert time.monotonic() < deadline, client.job(job_id)
        # This stack's environments only: their working directory is the function's code in its work dir.
        runtimes = [
            pid
            for pid in processes(b"lambda_runtime.py", f"AWS_LAMBDA_FUNCTION_NAME={function}".encode())
            if cwd(pid).is_relative_to(target.work_dir)
        ]
        before = {pid: cpu_ticks(pid) for pid in runtimes}
        time.sleep(0.05)
        victim = next((pid for pid in runtimes if cpu_ticks(pid) > before[pid] + 1), None)
    os.kill(victim, signal.SIGKILL)  # mid-invocation: it is burning CPU on our image

    job = client.wait(job_id, timeout=120)
    assert job["status"] == "COMPLETED", job["error"]
    assert {o["width"] for o in job["outputs"]} == {160, 320, 640}
    machine = target.manifest.state_machine_arn("pipeline", target.account)
    sfn = target.client("stepfunctions")
    execution = f"{machine.replace(':stateMachine:', ':execution:')}:{job_id}"
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    failures = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failures] == ["Runtime.ExitError"]  # the crash, then a retry that succeeded
    assert "Runtime exited" in failures[0]["cause"]


def _in_flight(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


def test_a_worker_killed_mid_transcode_fails_over_within_the_bound_leaving_nothing(client, target, tmp_path):
    if target.work_dir is None:
        pytest.skip("needs the embedded target, whose worker processes the test can kill")
    worker = target.manifest.data["workers"]["transcode"]
    state_file = target.work_dir / "services" / f"{worker['name']}.json"
    [victim] = json.loads(state_file.read_text())["pids"]
    sqs = target.client("sqs")
    queue = sqs.get_queue_url(QueueName=target.manifest.queues[worker["queue"]]["name"])["QueueUrl"]
    scratch = target.work_dir / "scratch" / "smmu-transcode"

    source = media.video(tmp_path / "long.mp4", size="1280x720", seconds=30)
    job_id, _ = client.upload(source.read_bytes(), "long.mp4", "video/mp4")
    deadline = time.monotonic() + 60
    while not (ffmpeg := [p for p in processes(b"ffmpeg") if parent(p) == victim]):
        assert time.monotonic() < deadline, client.job(job_id)
        time.sleep(0.1)
    victim_scratch = [p for p in scratch.iterdir() if p.name.startswith(f"{victim}-")]
    assert victim_scratch
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)

    # The task runs again: a new ffmpeg under the replacement worker, within the bound.
    while True:
        workers = set(json.loads(state_file.read_text())["pids"]) - {victim}
        if [p for p in processes(b"ffmpeg") if p not in ffmpeg and parent(p) in workers]:
            break
        assert time.monotonic() - killed_at < FAILOVER_BOUND_SECONDS, "the task did not run again in time"
        time.sleep(0.1)
    failover = time.monotonic() - killed_at
    # The dead worker's ffmpeg died with it (parent-death signal), it was not orphaned.
    alive = [pid for pid in ffmpeg if Path(f"/proc/{pid}").exists() and _state(pid) != "Z"]
    assert not alive, f"ffmpeg {alive} outlived its worker"
    job = client.wait(job_id, timeout=300)
    assert job["status"] == "COMPLETED", job["error"]
    assert not any(p.exists() for p in victim_scratch), "the dead worker's scratch is still there"
    steps = [(e["step"], e["outcome"]) for e in job["timeline"]]
    assert steps.count(("Transcode", "succeeded")) == 1
    keys = [o["key"] for o in job["outputs"]]
    assert len(keys) == len(set(keys))
    assert sorted(o["height"] for o in job["outputs"] if o["kind"] == "video") == [360, 480, 720]
    # Everything stored is an output or an HLS segment: the killed attempt left nothing behind.
    stored = set(_processed_keys(target, job_id))
    assert set(keys) <= stored
    assert all(k in keys or k.endswith(".ts") for k in stored), sorted(stored - set(keys))
    print(f"failover {failover:.1f}s")
    assert _in_flight(sqs, queue) == 0


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


# -- duplicates and bursts ---------------------------------------------------------------------------------

#: The issue's counts on the embedded target; a fifth of them on compose and LocalStack (CI runs the e2e suite
#: there twice, and the containers add nothing these two tests could find with more jobs). LocalStack starts a
#: container per concurrent Lambda environment: on a 2-core machine some invokes of a burst wait for one past
#: their state's timeout, and the state machine runs them again (States.Timeout is retried on every function
#: step, which are all idempotent). Raise them for a soak.
_SHARE = {"embedded": 1}.get(TARGET, 5)
DUPLICATED_JOBS = int(os.environ.get("SMMU_CHAOS_DUPLICATED_JOBS", str(100 // _SHARE)))
BURST_JOBS = int(os.environ.get("SMMU_CHAOS_BURST_JOBS", str(500 // _SHARE)))


def _upload_many(client, count: int, name: str, data: bytes) -> list[str]:
    """Upload ``count`` files as fast as the tenant's quota of active jobs lets a client: a 429 means wait."""

    def upload(i: int) -> str:
        deadline = time.monotonic() + 600
        while (created := client.request_upload(f"{name}-{i}.jpg", "image/jpeg", len(data))).status_code == 429:
            assert time.monotonic() < deadline, created.text
            time.sleep(0.5)
        assert created.status_code == 201, created.text
        body = created.json()
        assert client.post_file(body["upload"], data, f"{name}-{i}.jpg").status_code < 300
        return body["job_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(upload, range(count)))


def _job(client, job_id: str) -> dict:
    """The job, waiting out the tenant's request rate limit (429) as a client should."""
    while (response := client.http.get(f"/v1/jobs/{job_id}")).status_code == 429:
        time.sleep(0.2)
    assert response.status_code == 200, response.text
    return response.json()


def _wait_all(client, job_ids: list[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    pending, done = set(job_ids), {}
    while pending and time.monotonic() < deadline:
        with ThreadPoolExecutor(max_workers=4) as pool:
            for job in pool.map(lambda job_id: _job(client, job_id), sorted(pending)):
                if job["status"] in ("COMPLETED", "FAILED"):
                    done[job["job_id"]] = job
                    pending.discard(job["job_id"])
        if pending:
            time.sleep(1)
    return done


def _executions(target) -> list[str]:
    sfn = target.client("stepfunctions")
    machine = target.manifest.state_machine_arn("pipeline", target.account)
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
    return [e["name"] for page in pages for e in page["executions"]]


def _dead_letters(target) -> dict[str, int]:
    from smmu_stack.dlq import dead_letter_queues

    return {q.name: q.messages + q.in_flight for q in dead_letter_queues(target.client("sqs"))}


@pytest.mark.timeout(600)
def test_the_same_upload_event_twice_for_many_jobs_starts_exactly_one_execution_each(client, target):
    job_ids = _upload_many(client, DUPLICATED_JOBS, "twice", images.jpeg(64, 48))
    sqs = target.client("sqs")
    queue = sqs.get_queue_url(QueueName=target.manifest.queues["jobs"]["name"])["QueueUrl"]
    bucket = target.manifest.buckets["raw"]["name"]
    # S3 sent one event per upload; this is the second, as an at-least-once delivery may bring it.
    keys = [f"uploads/{job_id}/twice-{i}.jpg" for i, job_id in enumerate(job_ids)]
    for start in range(0, len(keys), 10):
        entries = [
            {"Id": str(i), "MessageBody": _s3_event(bucket, key, 100)} for i, key in enumerate(keys[start : start + 10])
        ]
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    done = _wait_all(client, job_ids, timeout=300)
    assert len(done) == len(job_ids), f"{len(job_ids) - len(done)} jobs not terminal"
    assert {job["status"] for job in done.values()} == {"COMPLETED"}, [j["error"] for j in done.values() if j["error"]]
    names = _executions(target)
    assert sum(names.count(job_id) for job_id in job_ids) == len(job_ids)  # exactly one each
    client.created.clear()  # every one is terminal, checked above
    for job in done.values():
        steps = [e["step"] for e in job["timeline"]]
        assert steps.count("UploadReceived") == 1 and steps.count("Completed") == 1, steps


@pytest.mark.timeout(1200)
def test_a_burst_of_small_image_jobs_all_complete_with_nothing_stuck_or_dead_lettered(client, target):
    started = time.monotonic()
    job_ids = _upload_many(client, BURST_JOBS, "burst", images.jpeg(48, 32))
    done = _wait_all(client, job_ids, timeout=900)
    elapsed = time.monotonic() - started
    statuses = [job["status"] for job in done.values()]
    print(f"burst: {len(job_ids)} jobs, {statuses.count('COMPLETED')} completed in {elapsed:.0f}s")
    assert len(done) == len(job_ids), f"{len(job_ids) - len(done)} jobs stuck"
    assert statuses.count("COMPLETED") == len(job_ids), [j["error"] for j in done.values() if j.get("error")][:5]
    assert set(_dead_letters(target).values()) == {0}, _dead_letters(target)
    client.created.clear()  # every one is terminal, checked above at the rate limit's pace
