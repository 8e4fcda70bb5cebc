"""In-memory fakes of the ports, with the adapters' semantics (conditional transitions, newest-first pages,
one execution per job), for unit tests that run in milliseconds. tests/integration/test_stores.py runs one
behavioural suite against these and the DynamoDB adapters, so the two cannot drift apart."""

import builtins
import copy
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from smmu.contracts import ExecutionInput
from smmu.jobs import (
    DEFAULT_TENANT,
    RETRYABLE,
    Job,
    JobEvent,
    JobStatus,
    TimelineEntry,
    allowed_sources,
    content_key,
    dump,
    execution_name,
    now_iso,
    progress_event,
    status_event,
    step_event,
)
from smmu.multipart import StoredPart
from smmu.options import ProcessingOptions
from smmu.ports import JobAlreadyExistsError
from smmu.repository import decode_cursor, encode_cursor, step_key
from smmu.webhooks import Delivery


class InMemoryJobStore:
    def __init__(self) -> None:
        # Stored as the JSON a table would hold, so a write is a copy and a read never aliases stored state.
        self._items: dict[str, dict[str, Any]] = {}
        #: job id -> the timeline entries recorded (what makes a retried record_step a no-op)
        self._event_keys: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def create(self, job: Job) -> None:
        with self._lock:
            if job.job_id in self._items:
                raise JobAlreadyExistsError(f"job {job.job_id} already exists")
            self._items[job.job_id] = dump(job)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            item = self._items.get(job_id)
            return Job.model_validate(item) if item else None

    def transition(
        self,
        job_id: str,
        target: JobStatus,
        *,
        entry: TimelineEntry | None = None,
        fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        attempt: int | None = None,
    ) -> bool:
        with self._lock:
            item = self._items.get(job_id)
            if item is None or JobStatus(item["status"]) not in allowed_sources(target):
                return False
            if attempt is not None and item.get("attempt", 1) != attempt:
                return False
            at = now_iso()
            events = [status_event(target, at, (fields or {}).get("error"))] + ([step_event(entry)] if entry else [])
            self._write(item, {**(fields or {}), "status": target.value}, entry, remove, events, at)
            return True

    def restart(
        self,
        job_id: str,
        *,
        attempt: int,
        entry: TimelineEntry | None = None,
        fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> bool:
        with self._lock:
            item = self._items.get(job_id)
            if item is None or JobStatus(item["status"]) not in RETRYABLE or item.get("attempt", 1) != attempt - 1:
                return False
            at = now_iso()
            events = [status_event(JobStatus.QUEUED, at)] + ([step_event(entry)] if entry else [])
            new = {**(fields or {}), "status": JobStatus.QUEUED.value, "attempt": attempt, "progress": {}}
            self._write(item, new, entry, remove, events, at)
            return True

    def delete(self, job_id: str) -> bool:
        with self._lock:
            return self._items.pop(job_id, None) is not None

    def record_step(self, job_id: str, entry: TimelineEntry) -> bool:
        with self._lock:
            item = self._items.get(job_id)
            keys = self._event_keys.setdefault(job_id, set())
            if item is None or step_key(entry) in keys:
                return False
            self._write(item, {}, entry, (), [step_event(entry)])
            keys.add(step_key(entry))
            return True

    def update_fields(self, job_id: str, fields: dict[str, Any]) -> bool:
        with self._lock:
            item = self._items.get(job_id)
            if item is None:
                return False
            self._write(item, fields, None, ())
            return True

    def report_progress(
        self, job_id: str, stage: str, percent: float, *, new_item: dict[str, Any] | None = None
    ) -> bool:
        with self._lock:
            item = self._items.get(job_id)
            if item is None or item["status"] != JobStatus.RUNNING.value:
                return False
            progress = dict(item.get("progress", {}))
            if stage in progress and progress[stage] >= percent:
                return False
            at = now_iso()
            self._write(
                item, {"progress": {**progress, stage: percent}}, None, (), [progress_event(stage, percent, at)], at
            )
            if new_item is not None:
                new_item.update(copy.deepcopy(item))
            return True

    def changed_since(self, tenant_id: str, since: str, *, limit: int = 200) -> list[str]:
        with self._lock:
            items = [
                i
                for i in self._items.values()
                if i.get("tenant_id", DEFAULT_TENANT) == tenant_id and i["updated_at"] >= since
            ]
        items.sort(key=lambda i: i["updated_at"])
        return [i["job_id"] for i in items[:limit]]

    @staticmethod
    def _write(
        item: dict[str, Any],
        fields: dict[str, Any],
        entry: TimelineEntry | None,
        remove: tuple[str, ...],
        events: list[JobEvent] | None = None,
        at: str | None = None,
    ) -> None:
        # Validate the whole new item first: a write either happens entirely or not at all.
        new = {**item, **fields, "updated_at": at or now_iso()}
        for name in remove:
            new.pop(name, None)
        if entry is not None:
            new["timeline"] = [*new.get("timeline", []), dump(entry)]
        if events:
            new["events"] = [*new.get("events", []), *(dump(event) for event in events)]
        item.clear()
        item.update(dump(Job.model_validate(new)))

    def list(
        self,
        *,
        tenant_id: str | None = None,
        status: JobStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[Job], str | None]:
        after = decode_cursor(cursor) if cursor else None
        if tenant_id is None and status is None:
            raise ValueError("listing needs a tenant or a status")
        with self._lock:
            items = [
                i
                for i in self._items.values()
                if (status is None or i["status"] == status.value)
                and (tenant_id is None or i.get("tenant_id", DEFAULT_TENANT) == tenant_id)
            ]
        items.sort(key=lambda i: (i["created_at"], i["job_id"]), reverse=True)
        if after is not None:
            mark = (after["created_at"], after["job_id"])
            items = [i for i in items if (i["created_at"], i["job_id"]) < mark]
        page = [Job.model_validate(i) for i in items[:limit]]
        more = len(items) > limit
        return page, encode_cursor(page[-1]) if page and more else None

    def count_active(self, tenant_id: str, *, now: str, since: str) -> int:
        with self._lock:
            return sum(
                1
                for i in self._items.values()
                if i.get("tenant_id", DEFAULT_TENANT) == tenant_id
                and i["created_at"] >= since
                and (
                    i["status"] in (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
                    or (i["status"] == JobStatus.PENDING_UPLOAD.value and i["upload_expires_at"] > now)
                )
            )

    def find_completed_by_content(
        self, tenant_id: str, sha256: str, options: ProcessingOptions | None = None
    ) -> Job | None:
        key = content_key(tenant_id, sha256)
        with self._lock:
            items = [
                i for i in self._items.values() if i.get("content_key") == key and i["status"] == JobStatus.COMPLETED
            ]
        items.sort(key=lambda i: (i["created_at"], i["job_id"]))
        found = (Job.model_validate(i) for i in items)
        return next((job for job in found if options is None or job.options == options), None)

    def with_perceptual_hash(self, tenant_id: str, *, scan_limit: int) -> builtins.list[Job]:
        with self._lock:
            items = [i for i in self._items.values() if i.get("tenant_id", DEFAULT_TENANT) == tenant_id]
        items.sort(key=lambda i: (i["created_at"], i["job_id"]), reverse=True)
        return [Job.model_validate(i) for i in items[:scan_limit] if i.get("perceptual_hash")]


class InMemoryMediaStore:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}

    def put(self, job_id: str, media_type: str, metadata: dict[str, Any]) -> None:
        self._items[job_id] = {
            "job_id": job_id,
            "media_type": media_type,
            "updated_at": now_iso(),
            "metadata": metadata,
        }

    def get(self, job_id: str) -> dict[str, Any] | None:
        item = self._items.get(job_id)
        return dict(item) if item else None

    def delete(self, job_id: str) -> bool:
        return self._items.pop(job_id, None) is not None


class InMemoryDeliveries:
    """Webhook delivery records by id (``smmu.webhook_store.DeliveryRepository``'s semantics for what the job
    lifecycle uses)."""

    def __init__(self) -> None:
        self.items: dict[str, Delivery] = {}

    def create(self, delivery: Delivery) -> bool:
        if delivery.delivery_id in self.items:
            return False
        self.items[delivery.delivery_id] = delivery
        return True

    def delete_for_job(self, job_id: str) -> int:
        mine = [key for key, delivery in self.items.items() if delivery.job_id == job_id]
        for key in mine:
            del self.items[key]
        return len(mine)


class InMemoryWorkflows:
    """Executions that do nothing on their own: a test says how each ends (``finish``)."""

    def __init__(self) -> None:
        self.executions: dict[str, ExecutionInput] = {}
        self.statuses: dict[str, str] = {}

    def start(self, execution: ExecutionInput) -> str | None:
        name = execution_name(execution.job_id, execution.attempt)
        if name in self.executions:
            return None
        self.executions[name] = execution
        self.statuses[name] = "RUNNING"
        return f"arn:aws:states:us-east-1:000000000000:execution:fake:{name}"

    def status(self, name: str) -> str | None:
        return self.statuses.get(name)

    def stop(self, name: str, cause: str) -> bool:
        if self.statuses.get(name) != "RUNNING":
            return False
        self.statuses[name] = "ABORTED"
        return True

    def finish(self, name: str, status: str) -> None:
        self.statuses[name] = status


class InMemoryMultipartUploads:
    """Multipart uploads as S3 keeps them: parts by number until completed or aborted."""

    def __init__(self) -> None:
        #: (key, upload id) -> (initiated at, part number -> part)
        self.uploads: dict[tuple[str, str], tuple[datetime, dict[int, StoredPart]]] = {}
        self.completed: dict[str, list[StoredPart]] = {}

    def create(self, key: str, content_type: str, initiated: datetime | None = None) -> str:
        upload_id = uuid.uuid4().hex
        self.uploads[(key, upload_id)] = (initiated or datetime.now(UTC), {})
        return upload_id

    def put_part(self, key: str, upload_id: str, part: StoredPart) -> None:
        self.uploads[(key, upload_id)][1][part.part_number] = part

    def parts(self, key: str, upload_id: str) -> list[StoredPart]:
        return sorted(self.uploads[(key, upload_id)][1].values(), key=lambda p: p.part_number)

    def complete(self, key: str, upload_id: str, parts: list[StoredPart]) -> dict[str, Any]:
        self.completed[key] = parts
        del self.uploads[(key, upload_id)]
        return {"ETag": f"etag-{len(parts)}"}

    def abort(self, key: str, upload_id: str) -> None:
        self.uploads.pop((key, upload_id), None)

    def incomplete(self, prefix: str, initiated_before: datetime) -> list[tuple[str, str]]:
        return [
            (key, upload_id)
            for (key, upload_id), (initiated, _) in self.uploads.items()
            if key.startswith(prefix) and initiated < initiated_before
        ]


class InMemoryObjects:
    """Buckets as versioned S3 keeps them: a key's versions until each is deleted."""

    def __init__(self) -> None:
        #: (bucket, key) -> how many versions are stored
        self.versions: dict[tuple[str, str], int] = {}
        #: (bucket, key) -> when its newest version was written
        self.written: dict[tuple[str, str], datetime] = {}

    def put(self, bucket: str, key: str, at: datetime | None = None) -> None:
        self.versions[(bucket, key)] = self.versions.get((bucket, key), 0) + 1
        self.written[(bucket, key)] = at or datetime.now(UTC)

    def exists(self, bucket: str, key: str) -> bool:
        return (bucket, key) in self.versions

    def remove_all(self, bucket: str, prefix: str) -> list[str]:
        doomed = sorted(key for (b, key) in self.versions if b == bucket and key.startswith(prefix))
        for key in doomed:
            del self.versions[(bucket, key)]
            self.written.pop((bucket, key), None)
        return doomed

    def expire(self, bucket: str, prefix: str, before: datetime) -> list[str]:
        old = sorted(k for (b, k), at in self.written.items() if b == bucket and k.startswith(prefix) and at < before)
        for key in old:
            del self.versions[(bucket, key)], self.written[(bucket, key)]
        return old

    def keys(self, bucket: str) -> list[str]:
        return sorted(key for (b, key) in self.versions if b == bucket)
