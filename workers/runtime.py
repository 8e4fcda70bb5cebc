"""The one runtime every media worker shares.

A worker is a long-running process fed by an SQS queue that Step Functions fills with
``sqs:sendMessage.waitForTaskToken``; each message is one task::

    {"task_token": "...", "job_id": "...", "bucket": "...", "key": "...", "media_type": "video"}

For each message the runtime:

1. checks the token is still alive (a first SendTaskHeartbeat; a stale redelivery is dropped before any work);
2. heartbeats in a thread: SendTaskHeartbeat and ChangeMessageVisibility every ``heartbeat_seconds``; a token
   that has died (TaskTimedOut / TaskDoesNotExist / InvalidToken) cancels the work;
3. streams the input from S3 to a per-task temp dir (``download_file``) and runs the worker's handler there —
   unless the upload is an exact duplicate (below);
4. uploads the handler's files (``upload_file``, multipart for large ones) to deterministic keys under
   ``jobs/<job_id>/<worker>/`` and deletes keys a previous attempt left there that this one did not write;
5. answers SendTaskSuccess(output) or SendTaskFailure(error=<exception class name>, cause=<message>), then
   deletes the message. A token that is no longer valid is logged and the message deleted.

Duplicates: a worker whose spec can ``reuse`` hashes the downloaded input (SHA-256, from the local copy it has just
written, so no second read of the upload) and records it on the job (``sha256``, ``content_key``). When a completed
job of the same tenant had the same bytes and the same processing options, the task makes nothing: the original's
files under ``jobs/<original>/<worker>/`` are copied server-side to this job's prefix (its own copies: deleting
either job leaves the other's intact), the spec's ``reuse`` gives the rest of the answer, and the job gets
``duplicate_of`` and a ``DuplicateFound`` timeline entry. Each worker decides for its own branch from the same
facts, so the parallel branches agree; a lookup or copy that fails only means the upload is processed after all.

SIGTERM stops polling; a running task gets ``shutdown_grace_seconds`` to finish, after which it is cancelled
and its message released (visibility 0) without an answer, so another worker takes it over. A worker killed
outright (SIGKILL) takes its tools with it (parent-death signal); the replacement that starts next to it queues
the dead worker's task again under its still-valid token, so it runs again within seconds, and removes its
scratch (``workers/scratch.py``). Where no worker shares its disk, the task state's heartbeat timeout is the
signal and its Retry sends a new message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from smmu import aws
from smmu.contracts import ProcessingOptions, WorkerResult, WorkerTask
from smmu.errors import BadInputError, ObjectMissingError, PipelineError
from smmu.jobs import Job, JobStatus, MediaFacts, Output, TimelineEntry, content_key
from smmu.keys import output_key
from smmu.objects import S3Objects
from smmu.settings import get_settings
from workers import process
from workers.errors import TaskCancelled, WorkerError, error_name
from workers.logs import logger as make_logger
from workers.scratch import Scratch
from workers.settings import RuntimeSettings, queue_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

#: Error codes Step Functions answers when the token can no longer be answered: nothing to retry.
TOKEN_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
FIRST_HEARTBEAT_GRACE_SECONDS = 3.0
#: Step Functions' limits on SendTaskFailure's fields.
MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32768
#: A task whose worker died is queued again this many times; then it fails (the state machine may retry it).
MAX_REQUEUES = 2
#: CopyObject copies at most 5 GiB in one request; larger files are copied in parts (UploadPartCopy).
MAX_SINGLE_COPY_BYTES = 5 * 1024**3


@dataclass(frozen=True)
class Task:
    token: str
    job_id: str
    bucket: str
    key: str
    media_type: str | None
    message_id: str
    receipt_handle: str
    receive_count: int = 1
    #: How many times a starting worker has re-queued this task after the worker running it died.
    requeued: int = 0
    #: The job's attempt the task belongs to, and the upload's options (``ProcessingOptions`` as JSON).
    attempt: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def processing_options(self) -> ProcessingOptions:
        return ProcessingOptions.model_validate(self.options)

    @classmethod
    def from_message(cls, message: MessageTypeDef) -> Task:
        """The task in an SQS message; ValueError (pydantic's ValidationError) if the body is not a WorkerTask."""
        body = WorkerTask.model_validate_json(message["Body"])
        return cls(
            token=body.task_token,
            job_id=body.job_id,
            bucket=body.bucket,
            key=body.key,
            media_type=body.media_type,
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            receive_count=int((message.get("Attributes") or {}).get("ApproximateReceiveCount", 1)),
            requeued=body.requeued,
            attempt=body.attempt,
            options=body.options.model_dump(mode="json"),
        )

    def body(self) -> WorkerTask:
        """The message body this task came in (what a re-queue sends again)."""
        return WorkerTask(
            task_token=self.token,
            job_id=self.job_id,
            bucket=self.bucket,
            key=self.key,
            media_type=self.media_type,
            requeued=self.requeued,
            attempt=self.attempt,
            options=ProcessingOptions.model_validate(self.options),
        )


class Artifact(MediaFacts):
    """A file the handler made. ``name`` is its key below the worker's prefix (``video/720p.mp4``).

    Files with a ``kind`` are listed in the task's outputs (as ``smmu.jobs.Output``, with the facts given here);
    files without one (HLS segments) are uploaded but only reachable through a listed file that references them.
    """

    path: Path
    name: str
    content_type: str
    kind: str | None = None


@dataclass
class WorkResult:
    artifacts: list[Artifact]
    #: Extra fields of the SendTaskSuccess output (keep it small: Step Functions carries at most 256 KiB).
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskContext:
    task: Task
    workdir: Path
    source: Path
    cancelled: threading.Event
    logger: Any
    #: Tell the job how far the task is, in percent (throttled; never raises): it shows as progress events.
    progress: Callable[[float], None] = lambda percent: None

    def check(self) -> None:
        """Raise TaskCancelled if the task must stop (call between long steps)."""
        if self.cancelled.is_set():
            raise TaskCancelled("the task was cancelled")

    def run(self, args: list[str], name: str = "tool") -> Path:
        """Run a media tool; it is killed if the task is cancelled. Returns the path of its stderr log."""
        self.check()
        log_path = self.workdir / f"{name}.log"
        process.run(args, log_path=log_path, cancelled=self.cancelled)
        return log_path


Handler = Callable[[TaskContext], WorkResult]


@dataclass(frozen=True)
class Reused:
    """A task whose upload an earlier job (``original``) had byte for byte, with the same options: its files were
    copied to this job (``outputs``: the original's listed outputs, with this job's keys)."""

    task: Task
    original: Job
    outputs: list[Output]
    #: Reads a copied file (e.g. a small summary the answer needs): key → bytes.
    read: Callable[[str], bytes]
    logger: Any


#: Given a reused task, the answer's fields beyond ``outputs`` (what the worker's handler would have put in
#: ``WorkResult.result``); may also copy the original's records (metadata) to the job.
Reuse = Callable[[Reused], dict[str, Any]]


@dataclass(frozen=True)
class WorkerSpec:
    #: Short name: logs, the queue settings (SMMU_<NAME>_QUEUE_URL) and the output prefix jobs/<id>/<name>/.
    name: str
    #: The step's name in the job's timeline.
    step: str
    #: Builds the handler once per process (load models here, not per task).
    load: Callable[[], Handler]
    #: How to answer for an exact duplicate whose files were copied; None: this worker always does the work.
    reuse: Reuse | None = None


class _Heartbeat(threading.Thread):
    """SendTaskHeartbeat + ChangeMessageVisibility every ``interval`` seconds while a task runs."""

    def __init__(self, runtime: WorkerRuntime, task: Task, cancelled: threading.Event) -> None:
        super().__init__(name=f"heartbeat-{task.job_id}", daemon=True)
        self.runtime = runtime
        self.task = task
        self.cancelled = cancelled
        self.token_gone = threading.Event()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        log = self.runtime.log
        interval = self.runtime.settings.heartbeat_seconds
        while not self._halt.wait(interval):
            try:
                self.runtime.sfn.send_task_heartbeat(taskToken=self.task.token)
            except ClientError as exc:
                code = _code(exc)
                if code in TOKEN_GONE:
                    log.warning("task token is no longer valid; cancelling the work", error=code)
                    self.token_gone.set()
                    self.cancelled.set()
                    return
                log.warning("heartbeat failed; will try again", error=code)
            except Exception as exc:  # network trouble: the next beat may get through
                log.warning("heartbeat failed; will try again", error=repr(exc))
            try:
                self.runtime.sqs.change_message_visibility(
                    QueueUrl=self.runtime.queue_url,
                    ReceiptHandle=self.task.receipt_handle,
                    VisibilityTimeout=self.runtime.settings.visibility_timeout_seconds,
                )
            except Exception as exc:
                log.warning("could not extend the message's visibility", error=repr(exc))


class _CancelWatch(threading.Thread):
    """Reads the job every ``cancel_check_seconds`` while a task runs; once the job no longer wants the task (it was
    cancelled or deleted, or a retry started a later attempt) it cancels the work, which kills a running tool within
    ``process.run``'s poll. Heartbeats would tell too (a stopped execution's token is refused), but only every
    ``heartbeat_seconds``; a read of one small item a second is cheaper than heartbeating that often."""

    def __init__(self, runtime: WorkerRuntime, task: Task, cancelled: threading.Event) -> None:
        super().__init__(name=f"cancel-watch-{task.job_id}", daemon=True)
        self.runtime = runtime
        self.task = task
        self.cancelled = cancelled
        #: Why the job no longer wants the task: "cancelled", "deleted" or "superseded" (a later attempt).
        self.reason: str | None = None
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        while not self._halt.wait(self.runtime.cancel_check_seconds):
            try:
                reason = self.runtime.job_moved_on(self.task)
            except Exception as exc:  # the table is unreachable for a moment: the work goes on
                self.runtime.log.warning("could not read the job's status", error=repr(exc))
                continue
            if reason:
                self.runtime.log.warning("the job no longer wants this task; stopping it", reason=reason)
                self.reason = reason
                self.cancelled.set()
                return


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class WorkerRuntime:
    def __init__(self, spec: WorkerSpec, settings: RuntimeSettings | None = None) -> None:
        self.spec = spec
        self.settings = settings or RuntimeSettings()
        self.log = make_logger(spec.name)
        self.sqs = aws.client("sqs")
        self.sfn = aws.client("stepfunctions")
        self.s3 = aws.client("s3")
        self.stopping = threading.Event()
        self._abandon_at: float | None = None
        self._busy = threading.Event()
        chunk = self.settings.transfer_chunk_mib * 1024 * 1024
        self.transfer = TransferConfig(
            multipart_threshold=chunk,
            multipart_chunksize=chunk,
            max_concurrency=self.settings.transfer_concurrency,
            max_io_queue=self.settings.transfer_concurrency * 2,
        )
        self.queue_url = self._queue_url()
        self.tasks_done = 0
        self.dynamodb = aws.client("dynamodb")
        self.cancel_check_seconds = get_settings().cancel_check_seconds
        root = Path(self.settings.temp_dir or tempfile.gettempdir()) / f"smmu-{spec.name}"
        self.scratch = Scratch(root)

    # -- setup -------------------------------------------------------------------------------------------
    def _queue_url(self) -> str:
        queue = queue_settings(self.spec.name)
        if queue.queue_url:
            return queue.queue_url
        return self.sqs.get_queue_url(QueueName=queue.queue)["QueueUrl"]

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping.is_set():
            self.log.info("shutting down", signal=signal.Signals(signum).name, busy=self._busy.is_set())
        self.stopping.set()
        if self._abandon_at is None:
            self._abandon_at = time.monotonic() + self.settings.shutdown_grace_seconds

    # -- the loop ----------------------------------------------------------------------------------------
    def reclaim(self) -> int:
        """Take over the tasks of dead workers and remove what they left in scratch; returns how many.

        A dead worker's task is sent to the queue again under the same (still valid) token and its old message
        deleted, so any worker picks it up at once, within the heartbeat timeout, without spending one of the
        state machine's retries. A task whose workers keep dying is failed with ``WorkerError`` instead, and
        the state machine's bounded retry decides.
        """
        orphans = self.scratch.orphans()
        for orphan in orphans:
            if orphan.task:
                self._take_over(orphan.task)
            self.scratch.remove(orphan)
        if orphans:
            self.log.info("removed dead workers' scratch", count=len(orphans))
        return len(orphans)

    def _take_over(self, saved: dict[str, Any]) -> None:
        task = Task(**{name: saved[name] for name in Task.__dataclass_fields__ if name in saved})
        log = self.log
        try:
            if task.requeued < MAX_REQUEUES:
                body = task.body().model_copy(update={"requeued": task.requeued + 1})
                self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body.model_dump_json())
                log.warning("a dead worker left a task unanswered; queued it again", job_id=task.job_id)
            else:
                log.warning("workers keep dying on this task; failing it", job_id=task.job_id, requeued=task.requeued)
                self.sfn.send_task_failure(
                    taskToken=task.token,
                    error=WorkerError.__name__,
                    cause=f"the worker processing this task died {task.requeued + 1} times",
                )
        except ClientError as exc:
            if _code(exc) not in TOKEN_GONE:
                log.warning("could not take over the dead worker's task", error=_code(exc))
        except Exception as exc:
            log.warning("could not take over the dead worker's task", error=repr(exc))
        self._delete(task.receipt_handle)

    def serve(self) -> int:
        handler = self.spec.load()
        self.reclaim()
        self.log.info("worker ready", queue_url=self.queue_url)
        while not self.stopping.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=1,
                    WaitTimeSeconds=self.settings.poll_wait_seconds,
                    VisibilityTimeout=self.settings.visibility_timeout_seconds,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                ).get("Messages", [])
            except Exception:
                self.log.exception("could not receive from the queue; retrying")
                self.stopping.wait(2.0)
                continue
            for message in messages:
                if self.stopping.is_set():
                    self._release(message["ReceiptHandle"])
                    continue
                self.handle_message(message, handler)
                self.tasks_done += 1
            if self.settings.max_tasks and self.tasks_done >= self.settings.max_tasks:
                break
        self.log.info("worker stopped", tasks=self.tasks_done)
        self.scratch.close()
        return 0

    def handle_message(self, message: MessageTypeDef, handler: Handler) -> None:
        try:
            task = Task.from_message(message)
        except (ValueError, KeyError, TypeError) as exc:
            # Without a token nobody can be answered; keeping the message would only redeliver it forever.
            self.log.error(
                "dropping a message that is not a task", reason=str(exc), message_id=message.get("MessageId")
            )
            self._delete(message["ReceiptHandle"])
            return
        self.log.append_keys(job_id=task.job_id, step=self.spec.step)
        try:
            self._handle_task(task, handler)
        finally:
            self.log.remove_keys(["job_id", "step"])

    def _first_heartbeat(self, token: str) -> None:
        """Claim the task with a heartbeat. An ``InvalidToken`` answer this early may be premature rather than final:
        LocalStack registers a task's heartbeat only after it has sent the task message, so a quick worker is told
        ``InvalidToken`` for a moment (AWS accepts the token as soon as the message exists). A token still refused
        after ``FIRST_HEARTBEAT_GRACE_SECONDS`` is gone."""
        deadline = time.monotonic() + FIRST_HEARTBEAT_GRACE_SECONDS
        while True:
            try:
                self.sfn.send_task_heartbeat(taskToken=token)
                return
            except ClientError as exc:
                if _code(exc) != "InvalidToken" or time.monotonic() >= deadline:
                    raise
            time.sleep(0.2)

    def _handle_task(self, task: Task, handler: Handler) -> None:
        log = self.log
        try:
            self._first_heartbeat(task.token)
        except ClientError as exc:
            if _code(exc) in TOKEN_GONE:
                log.warning("task token is no longer valid; dropping the message", error=_code(exc))
                self._delete(task.receipt_handle)
            else:
                log.warning("could not reach Step Functions; releasing the message", error=_code(exc))
                self._release(task.receipt_handle)
            return
        except Exception as exc:
            log.warning("could not reach Step Functions; releasing the message", error=repr(exc))
            self._release(task.receipt_handle)
            return
        log.info("task started", key=task.key, media_type=task.media_type, receive_count=task.receive_count)
        started = time.perf_counter()
        cancelled = threading.Event()
        beat = _Heartbeat(self, task, cancelled)
        watch = _CancelWatch(self, task, cancelled)
        workdir = Path(tempfile.mkdtemp(prefix="task-", dir=self.scratch.directory))
        self.scratch.task_started(dataclasses.asdict(task))
        outcome: dict[str, Any] = {}
        self._busy.set()
        beat.start()
        watch.start()
        try:
            thread = threading.Thread(
                target=self._work, args=(task, handler, workdir, cancelled, outcome), name="task", daemon=True
            )
            thread.start()
            abandoned = self._wait(thread, cancelled) and "output" not in outcome
        finally:
            beat.stop()
            watch.stop()
            self._busy.clear()
        try:
            elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
            if abandoned:
                log.warning("task not finished within the shutdown grace period; releasing it unanswered")
                self._release(task.receipt_handle)
                return
            error = outcome.get("error")
            if watch.reason is not None:
                log.warning("task stopped: the job was " + watch.reason, duration_ms=elapsed_ms)
                if watch.reason in ("cancelled", "deleted"):
                    self._discard_outputs(task, deleted=watch.reason == "deleted")
                self._delete(task.receipt_handle)
                return
            if beat.token_gone.is_set() or isinstance(error, TaskCancelled):
                log.warning("task dropped: its token is no longer valid")
                self._delete(task.receipt_handle)
                return
            if error is None:
                self._answer(task, success=outcome["output"])
                self._record(task, "succeeded", elapsed_ms, None)
                log.info("task succeeded", duration_ms=elapsed_ms, outputs=len(outcome["output"].outputs))
            else:
                name = error_name(error)
                cause = str(error) or name
                if isinstance(error, BadInputError):
                    log.warning("task rejected the input", error=name, reason=cause)
                else:
                    log.error("task failed", error=name, reason=cause, exc_info=error)
                    if not isinstance(error, PipelineError):
                        cause = f"unexpected {type(error).__name__}: {cause}"
                self._answer(task, failure=(name, cause))
                self._record(task, "failed", elapsed_ms, cause)
        finally:
            self.scratch.task_ended()
            shutil.rmtree(workdir, ignore_errors=True)

    def _wait(self, thread: threading.Thread, cancelled: threading.Event) -> bool:
        """Wait for the task thread; True if it was abandoned because shutdown's grace period ran out."""
        while thread.is_alive():
            thread.join(0.2)
            if self._abandon_at is not None and time.monotonic() >= self._abandon_at:
                cancelled.set()  # kills a running tool; the handler then raises TaskCancelled
                thread.join(5.0)
                return True
        return False

    def job_moved_on(self, task: Task) -> str | None:
        """Why the task's job no longer wants it ("cancelled", "deleted", "superseded"), or None."""
        item = self.dynamodb.get_item(
            TableName=get_settings().jobs_table,
            Key={"job_id": {"S": task.job_id}},
            ProjectionExpression="#status, attempt",
            ExpressionAttributeNames={"#status": "status"},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return "deleted"
        if int(item.get("attempt", {}).get("N", "1")) != task.attempt:
            return "superseded"
        if item.get("status", {}).get("S") == JobStatus.CANCELLED.value:
            return "cancelled"
        return None

    def _discard_outputs(self, task: Task, *, deleted: bool) -> None:
        """Remove what this task wrote (every version; and, of a deleted job, the media record a handler may have
        written): its job was cancelled or deleted, and whoever removed the job's outputs may have done so before
        this task's last write."""
        try:
            if deleted:
                self.dynamodb.delete_item(TableName=get_settings().media_table, Key={"job_id": {"S": task.job_id}})
            removed = S3Objects(self.s3).remove_all(get_settings().processed_bucket, self.prefix(task.job_id))
        except Exception:
            self.log.exception("could not remove the cancelled task's outputs")
            return
        if removed:
            self.log.info("removed the cancelled task's outputs", count=len(removed))

    # -- one task ----------------------------------------------------------------------------------------
    def _work(
        self, task: Task, handler: Handler, workdir: Path, cancelled: threading.Event, outcome: dict[str, Any]
    ) -> None:
        try:
            source = workdir / "input"
            self._download(task, source)
            if self.spec.reuse is not None and self.settings.reuse_duplicates:
                reused = self._reuse_duplicate(task, source, cancelled)
                if reused is not None:
                    outcome["output"] = reused
                    return
            ctx = TaskContext(
                task=task,
                workdir=workdir,
                source=source,
                cancelled=cancelled,
                logger=self.log,
                progress=self._progress(task),
            )
            result = handler(ctx)
            ctx.check()
            outputs = self._publish(task, result.artifacts, cancelled)
            ctx.progress(100.0)
            outcome["output"] = WorkerResult(
                job_id=task.job_id, worker=self.spec.name, outputs=outputs, **result.result
            )
        except BaseException as exc:
            outcome["error"] = exc

    def _reuse_duplicate(self, task: Task, source: Path, cancelled: threading.Event) -> WorkerResult | None:
        """The answer for an upload a completed job of the tenant already had (same bytes, same options), its
        files copied; None when there is no such job (or it cannot be reused): then the task does the work."""
        assert self.spec.reuse is not None
        from smmu.repository import JobRepository

        jobs = JobRepository(get_settings().jobs_table, self.dynamodb)
        try:
            with source.open("rb") as stream:  # just written: read back from the page cache, not from S3
                sha256 = hashlib.file_digest(stream, "sha256").hexdigest()
            job = jobs.get(task.job_id)
            if job is None:
                return None  # deleted meanwhile: the cancel watch stops the task
            jobs.update_fields(task.job_id, {"sha256": sha256, "content_key": content_key(job.tenant_id, sha256)})
            # Another ladder, no HLS, no transcript or another language make other files: not a duplicate.
            original = jobs.find_completed_by_content(job.tenant_id, sha256, job.options)
            if original is None or original.job_id == job.job_id or original.options != job.options:
                return None
            outputs = self._copy_outputs(original, task, cancelled)
            if outputs is None:
                return None
            bucket = get_settings().processed_bucket
            fields = self.spec.reuse(
                Reused(
                    task=task,
                    original=original,
                    outputs=outputs,
                    read=lambda key: self.s3.get_object(Bucket=bucket, Key=key)["Body"].read(),
                    logger=self.log,
                )
            )
        except TaskCancelled:
            raise
        except Exception as exc:
            # Finding duplicates saves work; it must never cost a job. Copies already made are removed when the
            # task publishes its own files (whatever it did not write under its prefix goes).
            self.log.warning("could not reuse an identical upload's outputs; processing it", error=repr(exc))
            return None
        root = original.duplicate_of or original.job_id
        jobs.update_fields(task.job_id, {"duplicate_of": root})
        if self.settings.record_timeline:
            detail = f"same bytes as job {root}: its {self.spec.name} outputs reused"
            jobs.record_step(task.job_id, TimelineEntry(step="DuplicateFound", outcome="info", detail=detail))
        self.log.info("duplicate upload: outputs reused", duplicate_of=root, outputs=len(outputs))
        self._progress(task)(100.0)
        return WorkerResult(job_id=task.job_id, worker=self.spec.name, outputs=outputs, **fields)

    def _copy_outputs(self, original: Job, task: Task, cancelled: threading.Event) -> list[Output] | None:
        """Copy every file under the original's prefix of this worker (listed outputs and the files they refer to,
        such as HLS segments) to this task's prefix, server-side; the original's listed outputs with their new
        keys. None if a listed output is gone (the original was deleted or expired meanwhile)."""
        bucket = get_settings().processed_bucket
        source, target = self.prefix(original.job_id), self.prefix(task.job_id)
        sizes: dict[str, int] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=source):
            sizes.update({obj["Key"]: obj["Size"] for obj in page.get("Contents", [])})
        listed = [o for o in original.outputs if o.key.startswith(source)]
        missing = [o.key for o in listed if o.key not in sizes]
        if missing:
            self.log.info("the identical upload's outputs are gone; processing it", missing=len(missing))
            return None
        written: set[str] = set()
        for key, size in sizes.items():
            if cancelled.is_set():
                raise TaskCancelled("cancelled while copying")
            copy = target + key.removeprefix(source)
            if size <= MAX_SINGLE_COPY_BYTES:
                self.s3.copy_object(Bucket=bucket, Key=copy, CopySource={"Bucket": bucket, "Key": key})
            else:
                content_type = self.s3.head_object(Bucket=bucket, Key=key)["ContentType"]
                self.s3.copy(
                    {"Bucket": bucket, "Key": key}, bucket, copy, ExtraArgs={"ContentType": content_type},
                    Config=self.transfer,
                )  # fmt: skip
            written.add(copy)
        remove_stale(self.s3, bucket, target, written)  # what an earlier attempt of this task left
        return [o.model_copy(update={"key": target + o.key.removeprefix(source)}) for o in listed]

    def _progress(self, task: Task) -> Callable[[float], None]:
        if not self.settings.record_timeline or self.settings.progress_interval_seconds <= 0:
            return lambda percent: None
        from smmu.events import ProgressThrottle
        from smmu.notifications import ProgressNotifier, WebhookQueue
        from smmu.repository import JobRepository

        config = get_settings()
        # Each report goes into the job (its progress events) and, a step at a time, to job.progress webhooks.
        notifier = ProgressNotifier(
            JobRepository(config.jobs_table, aws.client("dynamodb")),
            WebhookQueue(aws.client("sqs"), config.webhook_queue),
            step_percent=config.webhook_progress_step_percent,
        )
        return ProgressThrottle(
            lambda percent: notifier.report(task.job_id, self.spec.name, percent),
            min_interval=self.settings.progress_interval_seconds,
            step=self.settings.progress_step_percent,
            on_error=lambda exc: self.log.warning("could not report progress", error=repr(exc)),
        )

    def _download(self, task: Task, target: Path) -> None:
        try:
            self.s3.download_file(task.bucket, task.key, str(target), Config=self.transfer)
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                raise ObjectMissingError(f"the uploaded file s3://{task.bucket}/{task.key} no longer exists") from exc
            raise WorkerError(f"could not download the input ({_code(exc)})") from exc

    def prefix(self, job_id: str) -> str:
        return output_key(job_id, self.spec.name) + "/"

    def _publish(self, task: Task, artifacts: list[Artifact], cancelled: threading.Event) -> list[Output]:
        """Upload every artifact to its deterministic key, then remove what an earlier attempt left behind."""
        bucket = get_settings().processed_bucket
        written: set[str] = set()
        outputs: list[Output] = []
        for artifact in artifacts:
            if cancelled.is_set():
                raise TaskCancelled("cancelled while uploading")
            key = output_key(task.job_id, self.spec.name, *artifact.name.split("/"))
            self.s3.upload_file(
                str(artifact.path), bucket, key, ExtraArgs={"ContentType": artifact.content_type}, Config=self.transfer
            )
            written.add(key)
            if artifact.kind:
                outputs.append(
                    Output(
                        kind=artifact.kind,
                        key=key,
                        content_type=artifact.content_type,
                        size_bytes=artifact.path.stat().st_size,
                        **artifact.facts(),
                    )
                )
        removed = remove_stale(self.s3, bucket, self.prefix(task.job_id), written)
        if removed:
            self.log.info("removed outputs of an earlier attempt", count=len(removed))
        return outputs

    # -- answering ---------------------------------------------------------------------------------------
    def _answer(
        self, task: Task, *, success: WorkerResult | None = None, failure: tuple[str, str] | None = None
    ) -> None:
        try:
            if success is not None:
                self.sfn.send_task_success(taskToken=task.token, output=success.model_dump_json(exclude_none=True))
            else:
                assert failure is not None, "an answer is a success or a failure"
                self.sfn.send_task_failure(
                    taskToken=task.token,
                    error=_truncate(failure[0], MAX_ERROR_CHARS),
                    cause=_truncate(failure[1], MAX_CAUSE_CHARS),
                )
        except ClientError as exc:
            if _code(exc) in TOKEN_GONE:
                self.log.warning("task token is no longer valid; the answer was not delivered", error=_code(exc))
                self._delete(task.receipt_handle)
                return
            if _code(exc) == "InvalidOutput" and success is not None:
                # Doing the work again would make the same output: fail the task instead of looping.
                self.log.error("Step Functions refused the task's output", error=_code(exc))
                self._answer(task, failure=("WorkerError", f"the task's result was refused: {exc}"))
                return
            self.log.exception("could not answer Step Functions; the message will be redelivered")
            self._release(task.receipt_handle)
            return
        except Exception:
            self.log.exception("could not answer Step Functions; the message will be redelivered")
            self._release(task.receipt_handle)
            return
        self._delete(task.receipt_handle)

    def _delete(self, receipt_handle: str) -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)
        except Exception:
            self.log.exception("could not delete the message")

    def _release(self, receipt_handle: str) -> None:
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
            )
        except Exception:
            self.log.exception("could not release the message")

    def _record(
        self, task: Task, outcome: Literal["succeeded", "failed"], duration_ms: float, detail: str | None
    ) -> None:
        if not self.settings.record_timeline:
            return
        # The timeline is for people; failing to write it must not change the task's outcome.
        try:
            from smmu.repository import JobRepository

            entry = TimelineEntry(step=self.spec.step, outcome=outcome, duration_ms=duration_ms, detail=detail)
            JobRepository(get_settings().jobs_table, aws.client("dynamodb")).record_step(task.job_id, entry)
        except Exception:
            self.log.exception("could not record the step in the job's timeline")


def remove_stale(s3: Any, bucket: str, prefix: str, keep: set[str]) -> list[str]:
    """Delete every key under ``prefix`` that is not in ``keep``; returns the deleted keys."""
    stale: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        stale.extend(obj["Key"] for obj in page.get("Contents", []) if obj["Key"] not in keep)
    for start in range(0, len(stale), 1000):
        batch = stale[start : start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})
    return stale


def run_worker(spec: WorkerSpec) -> int:
    """Entry point of ``python -m workers.<name>``."""
    runtime = WorkerRuntime(spec)
    runtime.install_signal_handlers()
    return runtime.serve()
