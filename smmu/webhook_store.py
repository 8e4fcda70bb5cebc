"""DynamoDB adapters for webhook endpoints (the webhooks table) and their deliveries (the deliveries table).

Endpoints are listed per tenant through the ``by_tenant`` index, deliveries per endpoint through ``by_webhook``,
newest first, and per job through ``by_job`` (keys only: what a job's deletion removes). A delivery is created
with a conditional put (one per endpoint and event) and each attempt is claimed with a conditional update, so
duplicated events and messages never send twice.
"""

import base64
import json
import time
from typing import TYPE_CHECKING, Any

from smmu.jobs import now_iso
from smmu.repository import _from_dynamo, _to_dynamo
from smmu.webhooks import Delivery, DeliveryAttempt, DeliveryState, WebhookEndpoint

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_TENANT_INDEX = "by_tenant"
BY_WEBHOOK_INDEX = "by_webhook"
BY_JOB_INDEX = "by_job"
#: BatchWriteItem takes at most 25 requests.
_BATCH = 25


def _item(model: Any) -> dict[str, Any]:
    return {k: _to_dynamo(v) for k, v in model.model_dump(mode="json", exclude_none=True).items()}


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode()


def _decode_cursor(cursor: str, fields: frozenset[str]) -> dict[str, Any]:
    refused = ValueError("cursor is not one this API returned")
    if len(cursor) > 512:
        raise refused
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, RecursionError) as exc:
        raise refused from exc
    if not isinstance(key, dict) or set(key) != fields or not all(isinstance(v, str) and v for v in key.values()):
        raise refused
    return {name: {"S": value} for name, value in key.items()}


class WebhookRepository:
    def __init__(self, table_name: str, client: "DynamoDBClient") -> None:
        self.table_name = table_name
        self._db = client

    def create(self, endpoint: WebhookEndpoint) -> None:
        self._db.put_item(
            TableName=self.table_name, Item=_item(endpoint), ConditionExpression="attribute_not_exists(webhook_id)"
        )

    def get(self, webhook_id: str) -> WebhookEndpoint | None:
        item = self._db.get_item(
            TableName=self.table_name, Key={"webhook_id": {"S": webhook_id}}, ConsistentRead=True
        ).get("Item")
        return WebhookEndpoint.model_validate(_from_dynamo(item)) if item else None

    def list(self, tenant_id: str) -> list[WebhookEndpoint]:
        """The tenant's endpoints, oldest first (a tenant has a handful: the count is bounded by a setting)."""
        endpoints: list[WebhookEndpoint] = []
        for page in self._db.get_paginator("query").paginate(
            TableName=self.table_name,
            IndexName=BY_TENANT_INDEX,
            KeyConditionExpression="tenant_id = :t",
            ExpressionAttributeValues={":t": {"S": tenant_id}},
        ):
            endpoints += [WebhookEndpoint.model_validate(_from_dynamo(i)) for i in page.get("Items", [])]
        return endpoints

    def update(self, webhook_id: str, fields: dict[str, Any]) -> WebhookEndpoint | None:
        """Set fields of an existing endpoint; the endpoint as it is now, or None if there is none."""
        fields = {**fields, "updated_at": now_iso()}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": _to_dynamo(value) for i, value in enumerate(fields.values())}
        try:
            item = self._db.update_item(
                TableName=self.table_name,
                Key={"webhook_id": {"S": webhook_id}},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                ConditionExpression="attribute_exists(webhook_id)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except self._db.exceptions.ConditionalCheckFailedException:
            return None
        return WebhookEndpoint.model_validate(_from_dynamo(item))

    def delete(self, webhook_id: str) -> bool:
        try:
            self._db.delete_item(
                TableName=self.table_name,
                Key={"webhook_id": {"S": webhook_id}},
                ConditionExpression="attribute_exists(webhook_id)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True


class DeliveryRepository:
    def __init__(self, table_name: str, client: "DynamoDBClient") -> None:
        self.table_name = table_name
        self._db = client

    def create(self, delivery: Delivery) -> bool:
        """Store a new delivery; False if it exists already (the event was published or received before)."""
        try:
            self._db.put_item(
                TableName=self.table_name,
                Item=_item(delivery),
                ConditionExpression="attribute_not_exists(delivery_id)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, delivery_id: str) -> Delivery | None:
        item = self._db.get_item(
            TableName=self.table_name, Key={"delivery_id": {"S": delivery_id}}, ConsistentRead=True
        ).get("Item")
        return Delivery.model_validate(_from_dynamo(item)) if item else None

    def claim(self, delivery_id: str, attempt: int) -> bool:
        """Start attempt ``attempt`` if the delivery is pending and attempt ``attempt - 1`` was the last one started;
        False otherwise (a duplicate message, or the delivery has ended)."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"delivery_id": {"S": delivery_id}},
                UpdateExpression="SET attempts = :n, updated_at = :now REMOVE next_attempt_at",
                ConditionExpression="#state = :pending AND attempts = :previous",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":n": {"N": str(attempt)},
                    ":previous": {"N": str(attempt - 1)},
                    ":pending": {"S": "pending"},
                    ":now": {"S": now_iso()},
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def record(
        self,
        delivery_id: str,
        attempt: DeliveryAttempt,
        state: DeliveryState | None,
        next_attempt_at: str | None = None,
    ) -> bool:
        """Append an attempt's outcome; set the delivery's final state, or (None) leave it pending with the time
        the next attempt is due. A pending delivery's state is never written here: a retry that has already
        finished must not be overwritten by the attempt before it. False if the delivery is gone (its job was
        deleted during the attempt): nothing is written, so no partial record outlives the deletion."""
        values: dict[str, Any] = {
            ":attempt": {"L": [_to_dynamo(attempt.model_dump(mode="json", exclude_none=True))]},
            ":empty": {"L": []},
            ":now": {"S": now_iso()},
        }
        names: dict[str, str] = {}
        update = "SET attempt_log = list_append(if_not_exists(attempt_log, :empty), :attempt), updated_at = :now"
        if state is not None:
            update += ", #state = :state REMOVE next_attempt_at"
            names["#state"] = "state"
            values[":state"] = {"S": state}
        elif next_attempt_at:
            update += ", next_attempt_at = :next"
            values[":next"] = {"S": next_attempt_at}
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"delivery_id": {"S": delivery_id}},
            "UpdateExpression": update,
            "ConditionExpression": "attribute_exists(delivery_id)",
            "ExpressionAttributeValues": values,
        }
        if names:
            params["ExpressionAttributeNames"] = names
        try:
            self._db.update_item(**params)
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def delete(self, delivery_id: str) -> None:
        self._db.delete_item(TableName=self.table_name, Key={"delivery_id": {"S": delivery_id}})

    def delete_for_job(self, job_id: str) -> int:
        """Remove every delivery of the job's events (to any endpoint); how many there were."""
        ids: list[str] = []
        for page in self._db.get_paginator("query").paginate(
            TableName=self.table_name,
            IndexName=BY_JOB_INDEX,
            KeyConditionExpression="job_id = :j",
            ExpressionAttributeValues={":j": {"S": job_id}},
        ):
            ids += [item["delivery_id"]["S"] for item in page.get("Items", [])]
        for start in range(0, len(ids), _BATCH):
            requests: list[Any] = [
                {"DeleteRequest": {"Key": {"delivery_id": {"S": i}}}} for i in ids[start : start + _BATCH]
            ]
            for retry in range(8):
                unprocessed = self._db.batch_write_item(RequestItems={self.table_name: requests}).get(
                    "UnprocessedItems", {}
                )
                requests = list(unprocessed.get(self.table_name, []))
                if not requests:
                    break
                time.sleep(min(0.05 * 2**retry, 1.0))  # throttled: back off as the SDKs do
            else:
                raise RuntimeError(f"could not remove {len(requests)} deliveries of job {job_id}: throttled")
        return len(ids)

    def list(self, webhook_id: str, *, limit: int = 20, cursor: str | None = None) -> tuple[list[Delivery], str | None]:
        """The endpoint's deliveries, newest first, a page at a time (ValueError for a cursor not handed out)."""
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_WEBHOOK_INDEX,
            "KeyConditionExpression": "webhook_id = :w",
            "ExpressionAttributeValues": {":w": {"S": webhook_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            key = _decode_cursor(cursor, frozenset({"delivery_id", "webhook_id", "created_at"}))
            if key["webhook_id"]["S"] != webhook_id:
                raise ValueError("cursor is not one this API returned")
            params["ExclusiveStartKey"] = key
        response = self._db.query(**params)
        items = [Delivery.model_validate(_from_dynamo(i)) for i in response.get("Items", [])]
        return items, _encode_cursor(response.get("LastEvaluatedKey"))
