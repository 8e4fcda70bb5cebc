"""The resource manifest (``infra/resources.json``): one description of every bucket, table, queue, function
and state machine, read by the provisioner here and by Terraform (``jsondecode``)."""

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = REPO_ROOT / "infra" / "resources.json"


@dataclass(frozen=True)
class Account:
    account_id: str
    region: str


class Manifest:
    def __init__(self, data: dict[str, Any], root: Path = REPO_ROOT) -> None:
        self.data = data
        self.root = root

    @classmethod
    def load(cls, path: Path = MANIFEST_PATH) -> "Manifest":
        return cls(json.loads(path.read_text()), root=path.resolve().parent.parent)

    @property
    def buckets(self) -> dict[str, Any]:
        return self.data["buckets"]

    @property
    def tables(self) -> dict[str, Any]:
        return self.data["tables"]

    @property
    def queues(self) -> dict[str, Any]:
        return self.data["queues"]

    @property
    def functions(self) -> dict[str, Any]:
        return self.data["functions"]

    @property
    def state_machines(self) -> dict[str, Any]:
        return self.data["state_machines"]

    @cached_property
    def lambda_package(self) -> dict[str, Any]:
        return self.data["lambda_package"]

    def function_arn(self, key: str, account: Account) -> str:
        name = self.functions[key]["name"]
        return f"arn:aws:lambda:{account.region}:{account.account_id}:function:{name}"

    def state_machine_arn(self, key: str, account: Account) -> str:
        name = self.state_machines[key]["name"]
        return f"arn:aws:states:{account.region}:{account.account_id}:stateMachine:{name}"

    def queue_arn(self, key: str, account: Account) -> str:
        return f"arn:aws:sqs:{account.region}:{account.account_id}:{self.queues[key]['name']}"

    def resolve(self, reference: str, account: Account) -> str:
        """Resolve an environment reference such as ``table:jobs`` or ``state_machine_arn:pipeline``."""
        kind, sep, key = reference.partition(":")
        # A literal value may hold a colon too: a URL, or a JSON list of origins (SMMU_CORS_ORIGINS).
        if not sep or key.startswith("//") or not kind.replace("_", "").isalpha():
            return reference
        if kind == "bucket":
            return self.buckets[key]["name"]
        if kind == "table":
            return self.tables[key]["name"]
        if kind == "queue":
            return self.queues[key]["name"]
        if kind == "state_machine_arn":
            return self.state_machine_arn(key, account)
        raise ValueError(f"unknown reference kind {kind!r} in {reference!r}")

    def environment(self, account: Account) -> dict[str, str]:
        """The environment every function and service gets: resource names and ARNs."""
        return {name: self.resolve(ref, account) for name, ref in self.data["environment"].items()}

    def definition(self, key: str, account: Account, queue_urls: dict[str, str]) -> str:
        """The state machine's ASL with every ``${Placeholder}`` replaced, as Terraform's templatefile does.

        ``queue_urls`` maps queue keys to URLs (their form differs between emulators and AWS).
        """
        machine = self.state_machines[key]
        text = (self.root / machine["definition"]).read_text()
        for placeholder, function in machine["function_placeholders"].items():
            text = text.replace("${" + placeholder + "}", self.function_arn(function, account))
        for placeholder, queue in machine.get("queue_placeholders", {}).items():
            text = text.replace("${" + placeholder + "}", queue_urls[queue])
        if "${" in text:
            raise ValueError(f"{machine['definition']} has placeholders the manifest does not supply")
        return text
