"""Apply the resource manifest to an emulated cloud (moto or LocalStack), idempotently.

Every call reads the current state and creates or updates only what differs, so ``provision`` can run on every
start. Real AWS is provisioned by Terraform from the same manifest.
"""

import base64
import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from smmu_stack.manifest import Account, Manifest
from smmu_stack.packaging import build_code_package

log = logging.getLogger("smmu.provision")

LAMBDA_ROLE = "smmu-lambda-execution"
SFN_ROLE = "smmu-pipeline-execution"
_ASSUME = {
    "lambda": {"Service": "lambda.amazonaws.com"},
    "states": {"Service": "states.amazonaws.com"},
}


@dataclass
class Provisioned:
    account: Account
    environment: dict[str, str]
    queue_urls: dict[str, str] = field(default_factory=dict)
    function_arns: dict[str, str] = field(default_factory=dict)
    state_machine_arns: dict[str, str] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)


class Provisioner:
    def __init__(
        self, manifest: Manifest, region: str, endpoint_url: str | None = None, dependencies: Path | None = None
    ) -> None:
        self.manifest = manifest
        #: The functions' third-party packages (``smmu_stack.packaging.build_dependencies``), zipped with the code:
        #: needed where the functions run in Lambda's own runtime (LocalStack, which mounts no layers), not in the
        #: embedded cloud, whose runtime has them.
        self.dependencies = dependencies
        session = boto3.session.Session(region_name=region)
        config = Config(retries={"mode": "standard", "max_attempts": 5}, s3={"addressing_style": "path"})
        self._session, self._endpoint_url, self._config = session, endpoint_url, config
        self.s3 = self._client("s3")
        self.sqs = self._client("sqs")
        self.dynamodb = self._client("dynamodb")
        self.iam = self._client("iam")
        self.awslambda = self._client("lambda")
        self.sfn = self._client("stepfunctions")
        account_id = self._client("sts").get_caller_identity()["Account"]
        self.result = Provisioned(Account(account_id, region), manifest.environment(Account(account_id, region)))

    def _client(self, service: str) -> Any:
        session: Any = self._session  # Any: the service is named at run time
        return session.client(service, endpoint_url=self._endpoint_url, config=self._config)

    def apply(self) -> Provisioned:
        started = time.perf_counter()
        for key, queue in sorted(self.manifest.queues.items(), key=lambda kv: bool(kv[1]["dead_letter_queue"])):
            self._queue(key, queue)  # dead-letter queues first: the others' redrive policy names them
        for table in self.manifest.tables.values():
            self._table(table)
        for bucket in self.manifest.buckets.values():
            self._bucket(bucket)
        lambda_role = self._role(LAMBDA_ROLE, "lambda")
        sfn_role = self._role(SFN_ROLE, "states")
        package = build_code_package(self.manifest, dependencies=self.dependencies).read_bytes()
        for key, function in self.manifest.functions.items():
            self._function(key, function, package, lambda_role)
        for key, machine in self.manifest.state_machines.items():
            self._state_machine(key, machine, sfn_role)
        for key, function in self.manifest.functions.items():
            if function.get("event_source"):
                self._event_source(key, function["event_source"])
            if function.get("schedule"):
                self._schedule(key, function)
        log.info(
            "provisioned in %.2fs: %s",
            time.perf_counter() - started,
            ", ".join(self.result.changes) or "no changes",
        )
        return self.result

    # -- messaging ---------------------------------------------------------------------------------------------
    def _queue(self, key: str, spec: dict[str, Any]) -> None:
        attributes = {
            "VisibilityTimeout": str(spec["visibility_timeout_seconds"]),
            "MessageRetentionPeriod": str(spec["message_retention_seconds"]),
            "ReceiveMessageWaitTimeSeconds": str(spec["receive_wait_time_seconds"]),
            "SqsManagedSseEnabled": "true",
        }
        if spec["dead_letter_queue"]:
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": self.manifest.queue_arn(spec["dead_letter_queue"], self.result.account),
                    "maxReceiveCount": spec["max_receive_count"],
                }
            )
        try:
            url = self.sqs.get_queue_url(QueueName=spec["name"])["QueueUrl"]
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        except ClientError as exc:
            if "NonExistentQueue" not in exc.response["Error"]["Code"]:
                raise
            url = self.sqs.create_queue(QueueName=spec["name"], Attributes=attributes)["QueueUrl"]
            self.result.changes.append(f"queue {spec['name']}")
        self.result.queue_urls[key] = url

    # -- data --------------------------------------------------------------------------------------------------
    def _table(self, spec: dict[str, Any]) -> None:
        name = spec["name"]
        try:
            self.dynamodb.describe_table(TableName=name)
        except self.dynamodb.exceptions.ResourceNotFoundException:
            params: dict[str, Any] = {
                "TableName": name,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": a, "AttributeType": t} for a, t in spec["attributes"].items()
                ],
                "KeySchema": [{"AttributeName": spec["hash_key"], "KeyType": "HASH"}],
                "SSESpecification": {"Enabled": True},
            }
            if spec["global_secondary_indexes"]:
                params["GlobalSecondaryIndexes"] = [
                    {
                        "IndexName": gsi["name"],
                        "KeySchema": [
                            {"AttributeName": gsi["hash_key"], "KeyType": "HASH"},
                            {"AttributeName": gsi["range_key"], "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": gsi["projection"]},
                    }
                    for gsi in spec["global_secondary_indexes"]
                ]
            # A retried CreateTable whose first attempt created the table but failed to answer (seen on
            # LocalStack) finds it there: the table exists, which is what was asked for.
            with contextlib.suppress(self.dynamodb.exceptions.ResourceInUseException):
                self.dynamodb.create_table(**params)
            self.dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
            if spec["ttl_attribute"]:
                self.dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["ttl_attribute"]},
                )
            self.result.changes.append(f"table {name}")

    # -- storage -----------------------------------------------------------------------------------------------
    def _bucket(self, spec: dict[str, Any]) -> None:
        name = spec["name"]
        try:
            self.s3.head_bucket(Bucket=name)
        except ClientError:
            region = self.result.account.region
            extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            self.s3.create_bucket(Bucket=name, **extra)
            self.result.changes.append(f"bucket {name}")
        self.s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        if spec["versioning"]:
            self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if spec["expire_after_days"]:
            self.s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={
                    "Rules": [
                        {
                            "ID": "expire-uploads",
                            "Status": "Enabled",
                            "Filter": {"Prefix": spec.get("expire_prefix", "uploads/")},
                            "Expiration": {"Days": spec["expire_after_days"]},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                        }
                    ]
                },
            )
        # Browsers may upload and download only from the origins the API allows (SMMU_CORS_ORIGINS, a JSON
        # list; default none): no wildcard, so another web site cannot use a visitor's URLs.
        origins = json.loads(self.manifest.data["environment"].get("SMMU_CORS_ORIGINS") or "[]")
        if origins:
            self.s3.put_bucket_cors(
                Bucket=name,
                CORSConfiguration={
                    "CORSRules": [
                        {
                            "AllowedMethods": spec["cors_allowed_methods"],
                            "AllowedOrigins": origins,
                            # The checksum header is signed into every part URL: the browser must send it.
                            "AllowedHeaders": ["Content-Type", "x-amz-checksum-sha256"],
                            "MaxAgeSeconds": 3000,
                        }
                    ]
                },
            )
        else:
            self.s3.delete_bucket_cors(Bucket=name)
        queue_configs = []
        for notification in spec["notifications"]:
            queue_key = notification["queue"]
            queue_arn = self.manifest.queue_arn(queue_key, self.result.account)
            self._allow_s3_to_send(queue_key, queue_arn, name)
            queue_configs.append(
                {
                    "QueueArn": queue_arn,
                    "Events": notification["events"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": notification["prefix"]}]}},
                }
            )
        self.s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"QueueConfigurations": queue_configs}
        )

    def _allow_s3_to_send(self, queue_key: str, queue_arn: str, bucket: str) -> None:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowUploadEvents",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
                }
            ],
        }
        self.sqs.set_queue_attributes(
            QueueUrl=self.result.queue_urls[queue_key], Attributes={"Policy": json.dumps(policy)}
        )

    # -- compute -----------------------------------------------------------------------------------------------
    def _role(self, name: str, service: str) -> str:
        try:
            return self.iam.get_role(RoleName=name)["Role"]["Arn"]
        except self.iam.exceptions.NoSuchEntityException:
            document = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": _ASSUME[service], "Action": "sts:AssumeRole"}],
            }
            self.result.changes.append(f"role {name}")
            return self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]

    def _function(self, key: str, spec: dict[str, Any], package: bytes, role_arn: str) -> None:
        name = spec["name"]
        package_sha = _sha256_b64(package)
        config = {
            "Role": role_arn,
            "Handler": spec["handler"],
            "Runtime": self.manifest.lambda_package["runtime"],
            "MemorySize": spec["memory_mb"],
            "Timeout": spec["timeout_seconds"],
            "Environment": {"Variables": self.result.environment},
        }
        try:
            current = self.awslambda.get_function(FunctionName=name)["Configuration"]
        except self.awslambda.exceptions.ResourceNotFoundException:
            arn = self.awslambda.create_function(
                FunctionName=name,
                Code={"ZipFile": package},
                Architectures=[self.manifest.lambda_package["architecture"]],
                **config,
            )["FunctionArn"]
            self.result.changes.append(f"function {name}")
        else:
            arn = current["FunctionArn"]
            if current.get("CodeSha256") != package_sha:
                self.awslambda.update_function_code(FunctionName=name, ZipFile=package)
                self.result.changes.append(f"code {name}")
            wanted = {k: config[k] for k in ("Handler", "MemorySize", "Timeout")}
            if (
                any(current.get(k) != v for k, v in wanted.items())
                or current.get("Environment", {}).get("Variables") != self.result.environment
            ):
                self.awslambda.update_function_configuration(FunctionName=name, **config)
                self.result.changes.append(f"configuration {name}")
        self.result.function_arns[key] = arn

    def _event_source(self, function_key: str, spec: dict[str, Any]) -> None:
        queue_arn = self.manifest.queue_arn(spec["queue"], self.result.account)
        function_name = self.manifest.functions[function_key]["name"]
        existing = self.awslambda.list_event_source_mappings(FunctionName=function_name, EventSourceArn=queue_arn)
        params = {
            "BatchSize": spec["batch_size"],
            "MaximumBatchingWindowInSeconds": spec["maximum_batching_window_seconds"],
            "FunctionResponseTypes": ["ReportBatchItemFailures"] if spec["report_batch_item_failures"] else [],
        }
        mappings = [m for m in existing["EventSourceMappings"] if m["EventSourceArn"] == queue_arn]
        if mappings:
            self.awslambda.update_event_source_mapping(UUID=mappings[0]["UUID"], FunctionName=function_name, **params)
        else:
            self.awslambda.create_event_source_mapping(
                FunctionName=function_name, EventSourceArn=queue_arn, Enabled=True, **params
            )
            self.result.changes.append(f"event source {spec['queue']} -> {function_name}")

    def _schedule(self, key: str, spec: dict[str, Any]) -> None:
        rule = f"{spec['name']}-schedule"
        events = self._client("events")
        events.put_rule(Name=rule, ScheduleExpression=spec["schedule"], State="ENABLED")
        events.put_targets(Rule=rule, Targets=[{"Id": "function", "Arn": self.result.function_arns[key]}])

    # -- orchestration -----------------------------------------------------------------------------------------
    def _state_machine(self, key: str, spec: dict[str, Any], role_arn: str) -> None:
        arn = self.manifest.state_machine_arn(key, self.result.account)
        definition = self.manifest.definition(key, self.result.account, self.result.queue_urls)
        try:
            current = self.sfn.describe_state_machine(stateMachineArn=arn)
        except self.sfn.exceptions.StateMachineDoesNotExist:
            self.sfn.create_state_machine(name=spec["name"], definition=definition, roleArn=role_arn, type=spec["type"])
            self.result.changes.append(f"state machine {spec['name']}")
        else:
            if current["definition"] != definition:
                self.sfn.update_state_machine(stateMachineArn=arn, definition=definition)
                self.result.changes.append(f"definition {spec['name']}")
        self.result.state_machine_arns[key] = arn


def _sha256_b64(data: bytes) -> str:
    """SHA-256 as Lambda reports it (CodeSha256: base64, not hex)."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def provision(
    endpoint_url: str | None, region: str, manifest: Manifest | None = None, dependencies: Path | None = None
) -> Provisioned:
    return Provisioner(
        manifest or Manifest.load(), region=region, endpoint_url=endpoint_url, dependencies=dependencies
    ).apply()
