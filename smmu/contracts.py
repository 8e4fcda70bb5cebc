"""Every message that crosses a process boundary, as one typed model each.

Who sends what to whom::

    S3 ObjectCreated --SQS--> dispatcher                      UploadEventRecord (SQS record, S3 notification body)
    dispatcher --StartExecution--> state machine               ExecutionInput
    state machine --lambda:invoke--> ValidateInput/DetectType/ProcessImage    ObjectStep
                                     <-- ValidateInputResult / DetectTypeResult / ProcessImageResult
    state machine --lambda:invoke--> PackageHls                PackageHls  <-- PackageHlsResult
    state machine --lambda:invoke--> UpdateStatus              StatusUpdate (RUNNING / COMPLETED / FAILED)
                                     <-- StatusUpdateResult
    state machine --sqs:sendMessage.waitForTaskToken--> worker WorkerTask
    worker --SendTaskSuccess--> state machine                  WorkerResult
    scheduler --lambda:invoke--> Reconcile                     ReconcileRequest  <-- ReconcileReport

Rules that keep old and new stages talking while they are deployed one at a time:

- a field added later gets a default, so a message from an older sender still parses;
- unknown fields are ignored, so an older receiver accepts a newer sender's message.

Ignoring unknown fields means a misspelt field in the state machine would be dropped silently at run time; the
contract test (tests/unit/test_asl_contract.py) proves statically that every field the ASL passes is one the
receiving model declares.
"""

from typing import Annotated, Any, Literal
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, ConfigDict, Field, Json, TypeAdapter

from smmu.jobs import JobStatus, Output
from smmu.options import ProcessingOptions

__all__ = ["ProcessingOptions"]  # re-exported: the options travel in ExecutionInput, ObjectStep and WorkerTask


class Message(BaseModel):
    """Base of every message: immutable, tolerant of fields it does not know."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """The message as the JSON-ready dict that goes on the wire (absent optionals left out)."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


# -- S3 -> SQS -> dispatcher -------------------------------------------------------------------------------


class S3Bucket(Message):
    name: str


class S3Object(Message):
    #: As S3 sends it: URL-encoded (spaces as '+'); see ``UploadEventRecord.uploads``.
    key: str
    size: int = 0
    #: The object's ETag (S3 leaves out the quotes here); the dispatcher pins it on the job.
    eTag: str | None = None


class S3Entity(Message):
    bucket: S3Bucket
    object: S3Object


class S3EventRecord(Message):
    eventName: str
    s3: S3Entity


class S3Notification(Message):
    """The body S3 puts on the queue: ``Records`` of object events, or none for ``s3:TestEvent``.

    Powertools' ``S3Model`` describes the same body but requires fields (userIdentity, requestParameters,
    responseElements, the bucket's ownerIdentity) that emulators leave out and that nothing here reads, and it
    rejects the test event S3 sends when a notification is configured; this model names only what is used.
    """

    Records: list[S3EventRecord] = Field(default_factory=list)
    Event: str | None = None


class Upload(Message):
    """One uploaded object, as the dispatcher needs it."""

    bucket: str
    key: str
    size: int
    etag: str | None = None


class UploadEventRecord(SqsRecordModel):
    """One record of the dispatcher's SQS batch: Powertools' SQS record with the S3 notification as its body."""

    body: Json[S3Notification]

    def uploads(self) -> list[Upload]:
        notification = self.body
        if notification.Event == "s3:TestEvent":  # sent once when the notification is configured
            return []
        return [
            # S3 URL-encodes keys in events (spaces as '+').
            Upload(
                bucket=r.s3.bucket.name,
                key=unquote_plus(r.s3.object.key),
                size=r.s3.object.size,
                etag=(r.s3.object.eTag or "").strip('"') or None,
            )
            for r in notification.Records
            if r.eventName.startswith("ObjectCreated")
        ]


# -- the state machine's execution and its Lambda steps ----------------------------------------------------


class ExecutionInput(Message):
    """What StartExecution passes to the pipeline (``$`` at the start of every execution)."""

    job_id: str
    bucket: str
    key: str
    #: Task states read it (HeartbeatSecondsPath), so it is a setting, not a constant in the ASL.
    worker_heartbeat_seconds: int
    #: Which attempt of the job this execution is (a retry starts the next); status updates carry it, so a late
    #: update of an earlier attempt cannot change the job.
    attempt: int = Field(default=1, ge=1)
    #: What the client chose for this upload; the steps that use it get it passed on.
    options: ProcessingOptions = Field(default_factory=ProcessingOptions)


class ObjectStep(Message):
    """Input of the steps that work on the uploaded object (ValidateInput, DetectType, ProcessImage)."""

    job_id: str
    bucket: str
    key: str
    #: ProcessImage reads the thumbnail options.
    options: ProcessingOptions = Field(default_factory=ProcessingOptions)


class ValidateInputResult(Message):
    size_bytes: int


class DetectTypeResult(Message):
    media_type: str
    content_type: str


class ProcessImageResult(Message):
    outputs: list[Output]


class StepFunctionsError(Message):
    """What a Catch puts at its ResultPath: the error name and its cause (JSON for Lambda exceptions)."""

    Error: str | None = None
    Cause: str | None = None


class HlsFacts(Message):
    """What the transcode worker tells about its HLS output beyond the files."""

    #: The first MPEG-TS timestamp (90 kHz ticks) of the segments: captions are mapped onto it.
    mpegts_start: int | None = None


class OutputGroup(Message):
    """One parallel branch's result, as its ResultSelector keeps it."""

    outputs: list[Output] = Field(default_factory=list)
    #: Transcode: its HLS facts (empty for audio); Transcribe: the transcript's summary (language, ...).
    hls: HlsFacts | None = None
    transcript: dict[str, Any] | None = None


class PackageHls(ObjectStep):
    """PackageHls's input: the job and the parallel branches' results (transcode, transcribe)."""

    groups: list[OutputGroup] = Field(default_factory=list)


class PackageHlsResult(Message):
    """The branches' outputs with the captions added (and the master playlist's new size); the spoken language
    ("" when none was detected: the state machine passes the field on, so it is always there)."""

    output_groups: list[OutputGroup]
    language: str = ""


class MarkRunning(Message):
    job_id: str
    status: Literal[JobStatus.RUNNING]
    #: The execution's attempt (None from an older state machine: not checked).
    attempt: int | None = None


class MarkCompleted(Message):
    job_id: str
    status: Literal[JobStatus.COMPLETED]
    attempt: int | None = None
    #: Image jobs pass one list; media jobs one group per parallel branch (transcode, transcribe).
    outputs: list[Output] = Field(default_factory=list)
    output_groups: list[OutputGroup] = Field(default_factory=list)
    #: A second step's outputs after the first's (an animated GIF: its MP4 and WebP after the thumbnails).
    more_outputs: list[Output] = Field(default_factory=list)
    #: The spoken language (ISO 639-1) the transcript found; "" or absent: none.
    language: str | None = None

    def all_outputs(self) -> list[Output]:
        return [*self.outputs, *(o for group in self.output_groups for o in group.outputs), *self.more_outputs]


class MarkFailed(Message):
    job_id: str
    status: Literal[JobStatus.FAILED]
    attempt: int | None = None
    failed_step: str = "Unknown"
    error: StepFunctionsError = Field(default_factory=StepFunctionsError)


#: UpdateStatus's input: which one is chosen by ``status``.
StatusUpdate = Annotated[MarkRunning | MarkCompleted | MarkFailed, Field(discriminator="status")]
status_update = TypeAdapter(StatusUpdate)


class StatusUpdateResult(Message):
    job_id: str
    status: JobStatus
    #: False when the job's current status did not allow the transition (a late or duplicate update).
    changed: bool
    #: The job's status after the update, if the job still exists at the update's attempt; None otherwise (it
    #: was deleted, or retried as a later attempt).
    current_status: JobStatus | None = None
    #: The job is RUNNING at this attempt, so the execution should go on (after MarkRunning: False once the job
    #: was cancelled, deleted or retried before its execution got going).
    proceed: bool = True


class ReconcileRequest(Message):
    """A scheduled event carries none of this; an operator may pass grace_seconds to reconcile now."""

    grace_seconds: int | None = None
    #: Multipart uploads started longer ago than this are aborted (default: the setting).
    abandoned_upload_seconds: int | None = None
    #: Retention in days (default: the settings; 0 keeps everything): older uploads and outputs are removed.
    raw_retention_days: int | None = None
    output_retention_days: int | None = None


class ReconcileReport(Message):
    checked: int = 0
    restarted: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    #: Jobs whose abandoned multipart upload was aborted (their parts discarded, the job FAILED).
    aborted_uploads: list[str] = Field(default_factory=list)
    #: Files removed because they outlived their retention: uploads and outputs.
    expired_uploads: int = 0
    expired_outputs: int = 0


# -- media workers (task-token queues) ---------------------------------------------------------------------


class WorkerTask(Message):
    """The body of a task message Step Functions puts on a worker's queue."""

    task_token: str = Field(min_length=1)
    job_id: str = Field(min_length=1)
    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    media_type: str | None = None
    #: How many times a starting worker has queued this task again because the worker running it died.
    requeued: int = Field(default=0, ge=0)
    #: The job's attempt this task belongs to: once the job has moved on (cancelled, deleted, retried), the
    #: worker stops the task.
    attempt: int = Field(default=1, ge=1)
    options: ProcessingOptions = Field(default_factory=ProcessingOptions)


class WorkerResult(Message):
    """A worker's SendTaskSuccess output (Step Functions carries at most 256 KiB: keep it small).

    The state machine keeps only ``outputs``; the rest is each worker's summary, for the execution's history.
    """

    model_config = ConfigDict(extra="allow")

    job_id: str
    worker: str
    outputs: list[Output]
    #: Transcode: what the media turned out to be, and its probed metadata.
    media_type: str | None = None
    media: dict[str, Any] | None = None
    #: Transcribe: the transcript's summary (language, segments, note).
    transcript: dict[str, Any] | None = None
    #: Transcode: facts about the HLS output (always present, empty for audio: the state machine selects it).
    hls: HlsFacts | None = None
