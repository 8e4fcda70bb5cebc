"""Settings of the worker runtime (``SMMU_WORKER_*``) and of each worker's queue (``SMMU_<WORKER>_QUEUE*``)."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMMU_WORKER_", extra="ignore")

    #: How often a busy worker calls SendTaskHeartbeat and extends its message's visibility. The task state's
    #: HeartbeatSeconds should be at least three times this.
    heartbeat_seconds: float = 10.0
    #: Visibility a received message gets, renewed on every heartbeat (must exceed heartbeat_seconds).
    visibility_timeout_seconds: int = 120
    #: Long-poll wait of one ReceiveMessage call (0-20 s); also bounds how long SIGTERM takes while idle.
    poll_wait_seconds: int = 10
    #: After SIGTERM a running task gets this long to finish; then it is released (visibility 0) unanswered.
    #: Keep it below the container's stop timeout (ECS stopTimeout, 30 s by default).
    shutdown_grace_seconds: float = 25.0
    #: Exit after this many tasks (0: serve until stopped). Useful for one-shot runs and tests.
    max_tasks: int = 0
    #: Where the worker's scratch goes (default: the system's temp dir), below ``smmu-<worker>/``; per-task temp
    #: dirs live in it. Needs room for input plus outputs. Workers sharing it clean up after dead ones.
    temp_dir: str | None = None
    #: S3 transfers: parts of this size, this many at a time (memory in flight is about their product).
    transfer_chunk_mib: int = 8
    transfer_concurrency: int = 4
    #: Append the step's outcome to the job's timeline in the jobs table, as the Lambda steps do.
    record_timeline: bool = True
    #: An upload a completed job of the same tenant already had (same bytes, same options) is not processed again:
    #: that job's files are copied (workers whose spec says how to reuse them).
    reuse_duplicates: bool = True
    #: Report the task's progress into the job (progress events), at most this often and in whole steps of
    #: ``progress_step_percent``; 0 turns reporting off.
    progress_interval_seconds: float = 2.0
    progress_step_percent: float = 5.0


class QueueSettings(BaseSettings):
    """``SMMU_<WORKER>_QUEUE_URL`` or, without it, the queue name ``SMMU_<WORKER>_QUEUE`` (resolved at start)."""

    model_config = SettingsConfigDict(extra="ignore")

    queue_url: str = ""
    queue: str = ""


def queue_settings(worker: str) -> QueueSettings:
    """The worker's queue settings; ValueError when neither is set (a worker without its queue cannot start)."""
    prefix = f"SMMU_{worker.upper()}_"
    queue = QueueSettings(_env_prefix=prefix)
    if not (queue.queue_url or queue.queue):
        raise ValueError(f"the {worker} worker needs its queue: set {prefix}QUEUE_URL (or the name, {prefix}QUEUE)")
    return queue
