"""The job event log, its streams and the progress throttle, on the in-memory fakes (the same semantics as the
DynamoDB adapter: tests/integration/test_stores.py runs the store's side against both)."""

import asyncio
from datetime import timedelta

import pytest

from smmu.events import (
    ProgressThrottle,
    StreamLimits,
    TenantCursor,
    job_stream,
    parse_job_cursor,
    tenant_stream,
)
from smmu.fakes import InMemoryJobStore
from smmu.jobs import EventKind, JobError, JobStatus, TimelineEntry, fail_job, isoformat, utcnow
from tests.conftest import make_job

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def collect(stream) -> list:
    async def run() -> list:
        return [event async for event in stream]

    return asyncio.run(run())


def run_job(jobs, job_id, *, fail: bool = False) -> None:
    jobs.transition(job_id, JobStatus.QUEUED)
    jobs.transition(job_id, JobStatus.RUNNING, entry=TimelineEntry(step="Started", outcome="info"))
    jobs.record_step(job_id, TimelineEntry(step="ValidateInput", outcome="succeeded", duration_ms=3.0))
    jobs.report_progress(job_id, "transcode", 50.0)
    if fail:
        error = JobError(step="Transcode", code="CORRUPT_MEDIA", message="Transcode failed: cannot decode")
        fail_job(jobs, job_id, error, timeline_step="Failed")
    else:
        jobs.transition(job_id, JobStatus.COMPLETED, entry=TimelineEntry(step="Completed", outcome="info"))


def test_a_job_logs_one_event_per_transition_step_and_progress_report():
    jobs = InMemoryJobStore()
    job_id = make_job(jobs)
    run_job(jobs, job_id)
    assert not jobs.transition(job_id, JobStatus.COMPLETED)  # a retried transition adds nothing
    kinds = [(e.kind, e.status or e.step or (e.progress and e.progress.stage)) for e in jobs.get(job_id).events]
    assert kinds == [
        (EventKind.STATUS, JobStatus.PENDING_UPLOAD),
        (EventKind.STEP, "UploadRequested"),
        (EventKind.STATUS, JobStatus.QUEUED),
        (EventKind.STATUS, JobStatus.RUNNING),
        (EventKind.STEP, "Started"),
        (EventKind.STEP, "ValidateInput"),
        (EventKind.PROGRESS, "transcode"),
        (EventKind.STATUS, JobStatus.COMPLETED),
        (EventKind.STEP, "Completed"),
    ]


def test_a_failed_jobs_status_event_carries_its_error():
    jobs = InMemoryJobStore()
    job_id = make_job(jobs)
    run_job(jobs, job_id, fail=True)
    failed = [e for e in jobs.get(job_id).events if e.status is JobStatus.FAILED]
    assert len(failed) == 1
    assert failed[0].error.code == "CORRUPT_MEDIA" and "cannot decode" in failed[0].error.message


def test_a_retried_step_write_is_recorded_once():
    jobs = InMemoryJobStore()
    job_id = make_job(jobs)
    entry = TimelineEntry(step="DetectType", outcome="succeeded")
    assert jobs.record_step(job_id, entry)
    assert not jobs.record_step(job_id, entry)
    assert jobs.record_step(
        job_id, TimelineEntry(step="DetectType", outcome="succeeded", at="2099-01-01T00:00:00.000Z")
    )
    job = jobs.get(job_id)
    assert [e.step for e in job.events if e.kind is EventKind.STEP].count("DetectType") == 2
    assert [t.step for t in job.timeline].count("DetectType") == 2


def test_progress_only_rises_and_only_while_running():
    jobs = InMemoryJobStore()
    job_id = make_job(jobs)
    assert not jobs.report_progress(job_id, "transcode", 10.0)  # not running yet
    jobs.transition(job_id, JobStatus.QUEUED)
    jobs.transition(job_id, JobStatus.RUNNING)
    assert jobs.report_progress(job_id, "transcode", 10.0)
    assert not jobs.report_progress(job_id, "transcode", 10.0)  # retried
    assert not jobs.report_progress(job_id, "transcode", 5.0)  # late
    assert jobs.report_progress(job_id, "transcribe", 5.0)  # another stage
    assert jobs.report_progress(job_id, "transcode", 15.0)
    jobs.transition(job_id, JobStatus.COMPLETED)
    assert not jobs.report_progress(job_id, "transcode", 100.0)  # after the end
    job = jobs.get(job_id)
    assert job.progress == {"transcode": 15.0, "transcribe": 5.0}
    reported = [(e.progress.stage, e.progress.percent) for e in job.events if e.kind is EventKind.PROGRESS]
    assert reported == [("transcode", 10.0), ("transcribe", 5.0), ("transcode", 15.0)]


# -- the per-job stream -------------------------------------------------------------------------------------------
LIMITS = StreamLimits(poll_seconds=0.5, max_seconds=30, lag_seconds=1.0)


def test_the_job_stream_replays_in_order_ends_at_the_terminal_status_and_resumes_without_loss_or_duplicates():
    jobs = InMemoryJobStore()
    job_id = make_job(jobs)
    run_job(jobs, job_id)
    clock = FakeClock()
    everything = collect(job_stream(jobs, job_id, -1, LIMITS, sleep=clock.sleep, clock=clock))
    assert [e.id for e in everything] == [str(i) for i in range(9)]
    assert everything[-2].data["status"] == "COMPLETED"
    assert clock.now == 0  # it ended at once: the job had ended
    resumed = collect(job_stream(jobs, job_id, parse_job_cursor("4"), LIMITS, sleep=clock.sleep, clock=clock))
    assert [e.id for e in resumed] == [e.id for e in everything[5:]]
    assert (
        resumed[0].data
        == everything[5].data
        == {
            "job_id": job_id,
            "at": everything[5].data["at"],
            "step": "ValidateInput",
            "outcome": "succeeded",
            "duration_ms": 3.0,
        }
    )


def test_the_job_stream_sends_new_events_as_they_are_stored_and_closes_after_its_longest_time():
    jobs = InMemoryJobStore()
    job_id = make_job(jobs)
    clock = FakeClock()

    async def sleep_and_progress(seconds: float) -> None:
        await clock.sleep(seconds)
        if clock.now == 1.0:
            jobs.transition(job_id, JobStatus.QUEUED)

    events = collect(job_stream(jobs, job_id, -1, LIMITS, sleep=sleep_and_progress, clock=clock))
    assert [e.data.get("status") for e in events if e.kind is EventKind.STATUS] == ["PENDING_UPLOAD", "QUEUED"]
    assert clock.now == LIMITS.max_seconds  # not terminal: closed when its time was up


@pytest.mark.parametrize("given", ["x", "-1", "1.5", "9" * 12, "2026-01-01T00:00:00.000Z~a~1"])
def test_a_job_stream_refuses_an_id_it_did_not_send(given):
    with pytest.raises(ValueError):
        parse_job_cursor(given)


# -- the tenant stream --------------------------------------------------------------------------------------------
def test_the_tenant_stream_orders_events_across_jobs_keeps_to_the_tenant_and_resumes_after_its_last_id():
    jobs = InMemoryJobStore()
    start = TenantCursor.starting(isoformat(utcnow() - timedelta(seconds=60)))
    mine = [make_job(jobs, tenant_id="alpha") for _ in range(2)]
    theirs = make_job(jobs, tenant_id="beta")
    for job_id in (*mine, theirs):
        run_job(jobs, job_id)
    clock = FakeClock()
    later = lambda: utcnow() + timedelta(seconds=10)  # noqa: E731 - every stored event is past the lag
    limits = StreamLimits(poll_seconds=1, max_seconds=0.5, lag_seconds=1)
    events = collect(tenant_stream(jobs, "alpha", start, limits, sleep=clock.sleep, clock=clock, now=later))
    assert {e.data["job_id"] for e in events} == set(mine)
    assert len(events) == 2 * 9
    order = [TenantCursor.decode(e.id) for e in events]
    assert order == sorted(order) and len(set(order)) == len(order)
    for job_id in mine:  # each job's events in their own order
        assert [int(e.id.split("~")[2]) for e in events if e.data["job_id"] == job_id] == list(range(9))
    cut = 7
    resumed = collect(
        tenant_stream(
            jobs, "alpha", TenantCursor.decode(events[cut].id), limits, sleep=clock.sleep, clock=clock, now=later
        )
    )
    assert [e.id for e in resumed] == [e.id for e in events[cut + 1 :]]


def test_the_tenant_stream_holds_back_events_younger_than_its_lag():
    jobs = InMemoryJobStore()
    start = TenantCursor.starting(isoformat(utcnow() - timedelta(seconds=60)))
    make_job(jobs, tenant_id="alpha")
    clock = FakeClock()
    limits = StreamLimits(poll_seconds=1, max_seconds=0.5, lag_seconds=30)
    assert collect(tenant_stream(jobs, "alpha", start, limits, sleep=clock.sleep, clock=clock)) == []


@pytest.mark.parametrize("given", ["x", "a~b~c", "not-a-time~job~1", "2026-01-01T00:00:00.000Z~job~-1"])
def test_a_tenant_stream_refuses_an_id_it_did_not_send(given):
    with pytest.raises(ValueError):
        TenantCursor.decode(given)


def test_writer_clock_skew_never_puts_a_later_event_before_one_already_sent():
    jobs = InMemoryJobStore()
    job_id = make_job(jobs)
    jobs.record_step(job_id, TimelineEntry(step="Skewed", outcome="info", at="2000-01-01T00:00:00.000Z"))
    from smmu.events import positions

    placed = positions(jobs.get(job_id))
    assert [p.index for p, _ in placed] == [0, 1, 2]
    assert [p for p, _ in placed] == sorted(p for p, _ in placed)


# -- the progress throttle ----------------------------------------------------------------------------------------
def test_the_throttle_reports_whole_steps_at_most_every_interval_and_always_the_end():
    clock = FakeClock()
    sent: list[float] = []
    throttle = ProgressThrottle(sent.append, min_interval=2.0, step=5.0, clock=clock)
    for percent, at in [(0.5, 0), (4.9, 0.1), (5.2, 0.2), (9.0, 1.0), (12.0, 1.5), (12.0, 2.3), (11.0, 5), (99.9, 5.1)]:
        clock.now = at
        throttle(percent)
    # 9 %: no new step; 12 % at 1.5 s: too soon after 5 %, sent at 2.3 s; 11 %: no new step
    assert sent == [5.0, 10.0, 95.0]
    clock.now = 5.2
    throttle(100.0)  # the end goes through even though it is soon
    throttle(100.0)
    throttle(float("nan"))
    assert sent == [5.0, 10.0, 95.0, 100.0]


def test_the_throttle_never_fails_the_work():
    errors: list[Exception] = []

    def broken(percent: float) -> None:
        raise ConnectionError("table unreachable")

    throttle = ProgressThrottle(broken, on_error=errors.append)
    throttle(50.0)
    assert [type(e) for e in errors] == [ConnectionError]
