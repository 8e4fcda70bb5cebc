"""DynamoDB adapters of the ``JobStore`` and ``MediaStore`` ports (the only module that knows the tables' layout).

Each takes its boto3 client: the caller decides where it points (``smmu.aws.client`` in every deployment).
"""

import base64
import builtins
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from smmu.jobs import (
    RETRYABLE,
    Job,
    JobEvent,
    JobStatus,
    TimelineEntry,
    allowed_sources,
    content_key,
    dump,
    now_iso,
    progress_event,
    status_event,
    step_event,
)
from smmu.options import ProcessingOptions
from smmu.ports import JobAlreadyExistsError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: Every job carries its tenant's listing partition, so one index lists a tenant's jobs newest first.
LISTING_PREFIX = "TENANT#"
#: A cursor is a job's id and creation time, nothing more: the partition always comes from the caller.
_CURSOR_FIELDS = frozenset({"job_id", "created_at"})
_MAX_CURSOR = 512
BY_STATUS_INDEX = "by_status"
BY_CREATED_INDEX = "by_created"
#: The tenant's jobs by their last update (keys only): what the tenant-wide event stream polls.
BY_UPDATED_INDEX = "by_updated"
BY_CONTENT_INDEX = "by_content"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:  # Any: the stubs' attribute-value type is private to them
    # DynamoDB has no float type: numbers travel as Decimal.
    return _serializer.serialize(json.loads(json.dumps(value), parse_float=Decimal))


def _from_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {key: plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _events_to_dynamo(events: Sequence[JobEvent]) -> Any:
    """A job's events as a list of JSON strings, one per event: the log is only ever read whole (by the event
    streams), and a string per event keeps the item small next to the timeline it mirrors."""
    return {"L": [{"S": event.model_dump_json(exclude_none=True)} for event in events]}


def step_key(entry: TimelineEntry) -> str:
    """What makes a timeline entry the same entry when its write is retried."""
    return f"{entry.step}#{entry.outcome}#{entry.at}"


def _attempt_condition(attempt: int, values: dict[str, Any]) -> str:
    """The condition that a job is at ``attempt`` (adds its value to ``values``). A job stored before attempts
    existed has no attribute: it is at attempt 1."""
    values[":attempt"] = {"N": str(attempt)}
    if attempt == 1:
        return "(attribute_not_exists(#attempt) OR #attempt = :attempt)"
    return "#attempt = :attempt"


def listing_partition(tenant_id: str) -> str:
    return LISTING_PREFIX + tenant_id


def encode_cursor(job: Job | None) -> str | None:
    if job is None:
        return None
    return base64.urlsafe_b64encode(json.dumps({"job_id": job.job_id, "created_at": job.created_at}).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, str]:
    """The position a cursor names. Anything but a cursor this API returned is refused with ValueError, whatever
    its shape (nested, null, another type, oversized), so a crafted cursor cannot reach DynamoDB."""
    refused = ValueError("cursor is not one this API returned")
    if len(cursor) > _MAX_CURSOR:
        raise refused
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, RecursionError) as exc:
        raise refused from exc
    if not isinstance(key, dict) or set(key) != _CURSOR_FIELDS:
        raise refused
    if not all(isinstance(v, str) and 0 < len(v) <= 64 for v in key.values()):
        raise refused
    return key


class JobRepository:
    def __init__(self, table_name: str, client: "DynamoDBClient") -> None:
        self.table_name = table_name
        self._db = client

    def create(self, job: Job) -> None:
        item = {k: _to_dynamo(v) for k, v in dump(job).items() if k != "events"}
        item["events"] = _events_to_dynamo(job.events)
        item["listing"] = {"S": listing_partition(job.tenant_id)}
        try:
            self._db.put_item(TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(job_id)")
        except self._db.exceptions.ConditionalCheckFailedException as exc:
            raise JobAlreadyExistsError(f"job {job.job_id} already exists") from exc

    def get(self, job_id: str) -> Job | None:
        resp = self._db.get_item(TableName=self.table_name, Key={"job_id": {"S": job_id}}, ConsistentRead=True)
        item = resp.get("Item")
        return Job.model_validate(_from_dynamo(item)) if item else None

    def transition(
        self,
        job_id: str,
        target: JobStatus,
        *,
        entry: TimelineEntry | None = None,
        fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        attempt: int | None = None,
        new_item: dict[str, Any] | None = None,
    ) -> bool:
        """Move a job to ``target`` if its current status allows it (and, given ``attempt``, if the job is still at
        that attempt); False (and no write) otherwise.

        ``new_item``, if given, is filled with the job as written (saves a read to whoever needs it)."""
        sources = sorted(allowed_sources(target))
        values: dict[str, Any] = {f":from{i}": {"S": status.value} for i, status in enumerate(sources)}
        condition = f"attribute_exists(job_id) AND #status IN ({', '.join(values)})"
        if attempt is not None:
            condition += " AND " + _attempt_condition(attempt, values)
        at = now_iso()
        # The events ride on the conditional write: one set per transition, however often it is retried.
        events = [status_event(target, at, (fields or {}).get("error"))] + ([step_event(entry)] if entry else [])
        return self._update(
            job_id,
            fields={**(fields or {}), "status": target.value},
            entry=entry,
            remove=remove,
            condition=condition,
            condition_values=values,
            events=events,
            at=at,
            new_item=new_item,
        )

    def restart(
        self,
        job_id: str,
        *,
        attempt: int,
        entry: TimelineEntry | None = None,
        fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> bool:
        """QUEUED again as ``attempt``, if the job's attempt ``attempt - 1`` ended FAILED or CANCELLED; False (and
        no write) otherwise: two retries of one attempt make one new attempt."""
        values: dict[str, Any] = {f":from{i}": {"S": status.value} for i, status in enumerate(sorted(RETRYABLE))}
        condition = f"attribute_exists(job_id) AND #status IN ({', '.join(values)})"
        condition += " AND " + _attempt_condition(attempt - 1, values)
        at = now_iso()
        events = [status_event(JobStatus.QUEUED, at)] + ([step_event(entry)] if entry else [])
        return self._update(
            job_id,
            # A new attempt's progress starts from nothing.
            fields={**(fields or {}), "status": JobStatus.QUEUED.value, "attempt": attempt, "progress": {}},
            entry=entry,
            remove=remove,
            condition=condition,
            condition_values=values,
            events=events,
            at=at,
        )

    def delete(self, job_id: str) -> bool:
        """Remove the job's record; False if there was none."""
        answer = self._db.delete_item(TableName=self.table_name, Key={"job_id": {"S": job_id}}, ReturnValues="ALL_OLD")
        return "Attributes" in answer

    def record_step(self, job_id: str, entry: TimelineEntry) -> bool:
        """Append a timeline entry (and its step event) to an existing job; False if there is no such job or
        this very entry was recorded already (a retried write)."""
        values = {":key": {"S": step_key(entry)}, ":keys": {"SS": [step_key(entry)]}}
        return self._update(
            job_id,
            fields={},
            entry=entry,
            condition="attribute_exists(job_id) AND NOT contains(#keys, :key)",
            condition_values=values,
            events=[step_event(entry)],
            add_keys=True,
        )

    def update_fields(self, job_id: str, fields: dict[str, Any]) -> bool:
        return self._update(job_id, fields=fields, entry=None, condition="attribute_exists(job_id)")

    def report_progress(
        self, job_id: str, stage: str, percent: float, *, new_item: dict[str, Any] | None = None
    ) -> bool:
        """Record a RUNNING job's progress in ``stage`` and its progress event; False (no write) unless the job
        is RUNNING and ``percent`` is above the stage's last report, so a retried or late report adds nothing.

        ``new_item``, if given, is filled with the job as written (its attempt, tenant and the report's time)."""
        at = now_iso()
        values = {
            ":running": {"S": JobStatus.RUNNING.value},
            ":p": _to_dynamo(percent),
        }
        progress = "#progress.#stage"
        names = {"#progress": "progress", "#stage": stage}
        condition = (
            f"attribute_exists(job_id) AND #status = :running AND (attribute_not_exists({progress}) OR {progress} < :p)"
        )
        event = progress_event(stage, percent, at)
        try:
            return self._update(
                job_id,
                fields={},
                entry=None,
                condition=condition,
                condition_values=values,
                events=[event],
                at=at,
                extra_sets=[(f"{progress} = :p", names)],
                new_item=new_item,
            )
        except ClientError as exc:
            # A job written before progress existed has no map to set a stage in: create it.
            if exc.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            values[":map"] = _to_dynamo({stage: percent})
            return self._update(
                job_id,
                fields={},
                entry=None,
                condition="attribute_exists(job_id) AND #status = :running AND attribute_not_exists(#progress)",
                condition_values={k: v for k, v in values.items() if k != ":p"},
                events=[event],
                at=at,
                extra_sets=[("#progress = :map", {"#progress": "progress"})],
                new_item=new_item,
            )

    def changed_since(self, tenant_id: str, since: str, *, limit: int = 200) -> list[str]:
        """Ids of the tenant's jobs updated at or after ``since``, oldest update first, at most ``limit``."""
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_UPDATED_INDEX,
            "KeyConditionExpression": "listing = :pk AND updated_at >= :since",
            "ExpressionAttributeValues": {":pk": {"S": listing_partition(tenant_id)}, ":since": {"S": since}},
            "ScanIndexForward": True,
        }
        found: list[str] = []
        for page in self._db.get_paginator("query").paginate(**params):
            found += [item["job_id"]["S"] for item in page.get("Items", [])]
            if len(found) >= limit:
                break
        return found[:limit]

    def _update(
        self,
        job_id: str,
        *,
        fields: dict[str, Any],
        entry: TimelineEntry | None,
        condition: str,
        condition_values: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        events: Sequence[JobEvent] = (),
        at: str | None = None,
        add_keys: bool = False,
        extra_sets: Sequence[tuple[str, dict[str, str]]] = (),
        new_item: dict[str, Any] | None = None,
    ) -> bool:
        names: dict[str, str] = {"#status": "status"} if "#status" in condition else {}
        if add_keys:
            names["#keys"] = "event_keys"
        if "#attempt" in condition:
            names["#attempt"] = "attempt"
        values: dict[str, Any] = dict(condition_values or {})
        sets = []
        for i, (name, value) in enumerate({**fields, "updated_at": at or now_iso()}.items()):
            names[f"#f{i}"] = name
            values[f":v{i}"] = _to_dynamo(value)
            sets.append(f"#f{i} = :v{i}")
        for expression_part, extra_names in extra_sets:
            names.update(extra_names)
            sets.append(expression_part)
        if entry is not None or events:
            values[":empty"] = {"L": []}
        if entry is not None:
            names["#timeline"] = "timeline"
            values[":entry"] = _to_dynamo([dump(entry)])
            sets.append("#timeline = list_append(if_not_exists(#timeline, :empty), :entry)")
        if events:
            names["#events"] = "events"
            values[":events"] = _events_to_dynamo(events)
            sets.append("#events = list_append(if_not_exists(#events, :empty), :events)")
        expression = "SET " + ", ".join(sets)
        if remove:
            for i, name in enumerate(remove):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        if add_keys:
            expression += " ADD #keys :keys"
        try:
            answer = self._db.update_item(
                TableName=self.table_name,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW" if new_item is not None else "NONE",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        if new_item is not None:
            new_item.update(_from_dynamo(answer.get("Attributes", {})))
        return True

    def list(
        self,
        *,
        tenant_id: str | None = None,
        status: JobStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[Job], str | None]:
        """Jobs newest first, a page at a time: one tenant's (optionally of one status), or, without a tenant,
        every tenant's jobs of one status (for the reconciler)."""
        position = decode_cursor(cursor) if cursor else None
        if tenant_id is not None:
            index, partition_name, partition = BY_CREATED_INDEX, "listing", listing_partition(tenant_id)
        elif status is not None:
            index, partition_name, partition = BY_STATUS_INDEX, "status", status.value
        else:
            raise ValueError("listing needs a tenant or a status")
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": partition_name},
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if tenant_id is not None and status is not None:
            # A tenant's jobs of one status: read the tenant's partition, keep that status (pages may then hold
            # fewer items; the loop below fills them).
            params["FilterExpression"] = "#status = :status"
            params["ExpressionAttributeNames"]["#status"] = "status"
            params["ExpressionAttributeValues"][":status"] = {"S": status.value}
        if position is not None:
            # The partition comes from the caller, never from the cursor: a cursor cannot reach another tenant.
            params["ExclusiveStartKey"] = {
                "job_id": {"S": position["job_id"]},
                "created_at": {"S": position["created_at"]},
                partition_name: {"S": partition},
            }
        found: list[Job] = []
        last: dict[str, Any] | None = None
        for _ in range(10):  # bounded: a sparse filter answers a short page with a cursor rather than read on
            resp = self._db.query(**params)
            found += [Job.model_validate(_from_dynamo(item)) for item in resp.get("Items", [])]
            last = resp.get("LastEvaluatedKey")
            if last is None or len(found) >= limit:
                break
            params["ExclusiveStartKey"] = last
            params["Limit"] = limit - len(found)
        page = found[:limit]
        more = last is not None or len(found) > limit
        return page, encode_cursor(page[-1]) if more and page else None

    def count_active(self, tenant_id: str, *, now: str, since: str) -> int:
        """The tenant's jobs created since ``since`` that are QUEUED, RUNNING, or PENDING_UPLOAD with an upload
        URL still valid at ``now`` (an expired URL can no longer start work).

        Read through the status index, one partition per active status: those hold only the jobs in that status now
        (bounded by the quotas), where the tenant's listing holds its whole history, which every upload would
        otherwise read again."""
        count = 0
        for status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PENDING_UPLOAD):
            values: dict[str, Any] = {
                ":status": {"S": status.value},
                ":since": {"S": since},
                ":pk": {"S": listing_partition(tenant_id)},
            }
            condition = "listing = :pk"
            if status is JobStatus.PENDING_UPLOAD:
                condition += " AND upload_expires_at > :now"
                values[":now"] = {"S": now}
            params: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": BY_STATUS_INDEX,
                "KeyConditionExpression": "#status = :status AND created_at >= :since",
                "FilterExpression": condition,
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": values,
                "Select": "COUNT",
            }
            for page in self._db.get_paginator("query").paginate(**params):
                count += page["Count"]
        return count

    def find_completed_by_content(
        self, tenant_id: str, sha256: str, options: ProcessingOptions | None = None
    ) -> Job | None:
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_CONTENT_INDEX,
            "KeyConditionExpression": "content_key = :key",
            "FilterExpression": "#status = :completed",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":key": {"S": content_key(tenant_id, sha256)},
                ":completed": {"S": JobStatus.COMPLETED.value},
            },
            "ScanIndexForward": True,  # the oldest: the original, not one of its duplicates
            # Small pages: the first completed job ends the search, and a popular file (the same bytes uploaded
            # hundreds of times) must not cost a read of every copy on each lookup.
            "Limit": 10,
        }
        for page in self._db.get_paginator("query").paginate(**params, PaginationConfig={"MaxItems": 100}):
            for item in page.get("Items", []):
                job = Job.model_validate(_from_dynamo(item))
                if options is None or job.options == options:
                    return job
        return None

    def with_perceptual_hash(self, tenant_id: str, *, scan_limit: int) -> builtins.list[Job]:
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_CREATED_INDEX,
            "KeyConditionExpression": "listing = :pk",
            "FilterExpression": "attribute_exists(perceptual_hash)",
            "ExpressionAttributeValues": {":pk": {"S": listing_partition(tenant_id)}},
            "ScanIndexForward": False,
            "Limit": min(scan_limit, 500),
        }
        found: builtins.list[Job] = []
        scanned = 0
        while scanned < scan_limit:
            resp = self._db.query(**params)
            scanned += resp.get("ScannedCount", 0)
            found += [Job.model_validate(_from_dynamo(item)) for item in resp.get("Items", [])]
            last = resp.get("LastEvaluatedKey")
            if last is None:
                break
            params["ExclusiveStartKey"] = last
            params["Limit"] = max(1, min(scan_limit - scanned, 500))
        return found


class MediaRepository:
    """Per-job media metadata (dimensions, format, EXIF, streams), one item per job."""

    def __init__(self, table_name: str, client: "DynamoDBClient") -> None:
        self.table_name = table_name
        self._db = client

    def put(self, job_id: str, media_type: str, metadata: dict[str, Any]) -> None:
        item = {"job_id": job_id, "media_type": media_type, "updated_at": now_iso(), "metadata": metadata}
        self._db.put_item(TableName=self.table_name, Item={k: _to_dynamo(v) for k, v in item.items()})

    def get(self, job_id: str) -> dict[str, Any] | None:
        resp = self._db.get_item(TableName=self.table_name, Key={"job_id": {"S": job_id}})
        item = resp.get("Item")
        return _from_dynamo(item) if item else None

    def delete(self, job_id: str) -> bool:
        answer = self._db.delete_item(TableName=self.table_name, Key={"job_id": {"S": job_id}}, ReturnValues="ALL_OLD")
        return "Attributes" in answer
