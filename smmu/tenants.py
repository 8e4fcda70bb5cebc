"""API keys: each belongs to a tenant; only a hash of its secret is stored (the API keys table).

A key reads ``smmu_<key id>_<secret>``. The key id is public (it names the key in listings and revocations); the
secret is 256 random bits, so a plain SHA-256 of it is enough (no slow hash is needed for a secret nobody chose).
"""

import hashlib
import hmac
import re
import secrets
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from smmu.jobs import now_iso
from smmu.keys import is_tenant_id

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TOKEN_PREFIX = "smmu_"
_TOKEN = re.compile(r"^smmu_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")


class ApiKey(BaseModel):
    key_id: str
    tenant_id: str
    name: str
    created_at: str
    revoked_at: str | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> str:
    key_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    return f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def parse_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _TOKEN.match(token)
    return (match.group(1), match.group(2)) if match else None


class ApiKeyStore:
    """DynamoDB adapter for the API keys table (hash key ``key_id``)."""

    def __init__(self, table_name: str, client: "DynamoDBClient") -> None:
        self.table_name = table_name
        self._db = client

    def create(self, tenant_id: str, name: str = "", token: str | None = None) -> tuple[str, ApiKey]:
        """Store a new key for the tenant (a given ``token``, e.g. a compose stack's dev key, or a fresh one) and
        return it with its record; the token itself is never stored."""
        if not is_tenant_id(tenant_id):
            raise ValueError("a tenant id is 1-63 lowercase letters, digits or '-', starting with a letter or digit")
        token = token or new_token()
        parsed = parse_token(token)
        if parsed is None:
            raise ValueError("not a well-formed API key (smmu_<12 characters>_<43 characters>)")
        key_id, secret = parsed
        record = ApiKey(key_id=key_id, tenant_id=tenant_id, name=name, created_at=now_iso())
        item = {
            "key_id": {"S": key_id},
            "tenant_id": {"S": tenant_id},
            "name": {"S": name},
            "created_at": {"S": record.created_at},
            "secret_sha256": {"S": _digest(secret)},
        }
        self._db.put_item(TableName=self.table_name, Item=item)
        return token, record

    def authenticate(self, token: str) -> ApiKey | None:
        """The key's record if the token is a live key, else None (unknown, wrong secret or revoked)."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        item = self._db.get_item(TableName=self.table_name, Key={"key_id": {"S": key_id}}).get("Item")
        if not item or "revoked_at" in item:
            return None
        if not hmac.compare_digest(item["secret_sha256"]["S"], _digest(secret)):
            return None
        return _record(item)

    def list(self, tenant_id: str | None = None) -> list[ApiKey]:
        params: dict[str, Any] = {"TableName": self.table_name}
        if tenant_id:
            params |= {
                "FilterExpression": "tenant_id = :t",
                "ExpressionAttributeValues": {":t": {"S": tenant_id}},
            }
        keys: list[ApiKey] = []
        for page in self._db.get_paginator("scan").paginate(**params):
            keys += [_record(item) for item in page.get("Items", [])]
        return sorted(keys, key=lambda k: (k.tenant_id, k.created_at))

    def revoke(self, key_id: str) -> bool:
        """Revoke a key; False if there is no such key."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"key_id": {"S": key_id}},
                UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
                ConditionExpression="attribute_exists(key_id)",
                ExpressionAttributeValues={":now": {"S": now_iso()}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _record(item: dict[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=item["key_id"]["S"],
        tenant_id=item["tenant_id"]["S"],
        name=item.get("name", {}).get("S", ""),
        created_at=item["created_at"]["S"],
        revoked_at=item.get("revoked_at", {}).get("S"),
    )
