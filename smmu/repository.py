"""DynamoDB adapters of the ``JobStore`` and ``MediaStore`` ports (the only module that knows the tables' layout).

Each takes its boto3 client: the caller decides where it points (``smmu.aws.client`` in every deployment).
"""

import base64
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from smmu.jobs import Job, JobStatus, TimelineEntry, allowed_sources, dump, now_iso
from smmu.ports import JobAlreadyExistsError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: Every job carries this constant so one index can list all jobs newest first.
LISTING_PARTITION = "JOB"
BY_STATUS_INDEX = "by_status"
BY_CREATED_INDEX = "by_created"

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


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("cursor is not one this API returned") from exc
    if not isinstance(key, dict) or "job_id" not in key:
        raise ValueError("cursor is not one this API returned")
    return key


class JobRepository:
    def __init__(self, table_name: str, client: "DynamoDBClient") -> None:
        self.table_name = table_name
        self._db = client

    def create(self, job: Job) -> None:
        item = {k: _to_dynamo(v) for k, v in dump(job).items()}
        item["listing"] = {"S": LISTING_PARTITION}
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
    ) -> bool:
        """Move a job to ``target`` if its current status allows it; False (and no write) otherwise."""
        sources = sorted(allowed_sources(target))
        values = {f":from{i}": {"S": status.value} for i, status in enumerate(sources)}
        condition = f"attribute_exists(job_id) AND #status IN ({', '.join(values)})"
        return self._update(
            job_id,
            fields={**(fields or {}), "status": target.value},
            entry=entry,
            remove=remove,
            condition=condition,
            condition_values=values,
        )

    def record_step(self, job_id: str, entry: TimelineEntry) -> bool:
        """Append a timeline entry to an existing job."""
        return self._update(job_id, fields={}, entry=entry, condition="attribute_exists(job_id)")

    def update_fields(self, job_id: str, fields: dict[str, Any]) -> bool:
        return self._update(job_id, fields=fields, entry=None, condition="attribute_exists(job_id)")

    def _update(
        self,
        job_id: str,
        *,
        fields: dict[str, Any],
        entry: TimelineEntry | None,
        condition: str,
        condition_values: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> bool:
        names: dict[str, str] = {"#status": "status"} if "#status" in condition else {}
        values: dict[str, Any] = dict(condition_values or {})
        sets = []
        for i, (name, value) in enumerate({**fields, "updated_at": now_iso()}.items()):
            names[f"#f{i}"] = name
            values[f":v{i}"] = _to_dynamo(value)
            sets.append(f"#f{i} = :v{i}")
        if entry is not None:
            names["#timeline"] = "timeline"
            values[":entry"] = _to_dynamo([dump(entry)])
            values[":empty"] = {"L": []}
            sets.append("#timeline = list_append(if_not_exists(#timeline, :empty), :entry)")
        expression = "SET " + ", ".join(sets)
        if remove:
            for i, name in enumerate(remove):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def list(
        self, *, status: JobStatus | None = None, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[Job], str | None]:
        """Jobs newest first, optionally of one status, a page at a time."""
        if status is None:
            index, key_condition = BY_CREATED_INDEX, "listing = :pk"
            values = {":pk": {"S": LISTING_PARTITION}}
        else:
            index, key_condition = BY_STATUS_INDEX, "#status = :pk"
            values = {":pk": {"S": status.value}}
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if status is not None:
            params["ExpressionAttributeNames"] = {"#status": "status"}
        if cursor:
            params["ExclusiveStartKey"] = {k: _to_dynamo(v) for k, v in decode_cursor(cursor).items()}
        resp = self._db.query(**params)
        jobs = [Job.model_validate(_from_dynamo(item)) for item in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return jobs, encode_cursor(_from_dynamo(last) if last else None)


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
