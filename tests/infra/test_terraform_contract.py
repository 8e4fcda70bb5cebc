"""The Terraform under infra/ against the resource manifest (infra/resources.json) and the state machine definitions.

Terraform cannot plan here (no provider download), so these tests read the HCL (python-hcl2) and prove what a plan
would rely on: every bucket, table, queue, function, state machine, service and worker the manifest names is declared
by a resource that iterates over that manifest section and takes each name and shape field from the manifest entry;
every ``${Placeholder}`` of an ASL file is supplied to templatefile(); every IAM policy grants named actions on named
resources, except where AWS itself requires "*" (ALLOWED_STAR_RESOURCE, ALLOWED_WILDCARD_ACTIONS). Expected names
and shapes are read from the manifest, never repeated here.
"""

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import hcl2
import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MANIFEST = json.loads((INFRA / "resources.json").read_text())

STACK = "modules/stack"
STORAGE = "modules/storage"
DATA = "modules/data"
MESSAGING = "modules/messaging"
COMPUTE = "modules/compute"
ORCHESTRATION = "modules/orchestration"

# Actions whose Resource must be "*" because AWS offers no resource-level permission for them.
ALLOWED_STAR_RESOURCE = {
    "xray:PutTraceSegments": "X-Ray trace writes have no resource type (functions and state machines trace)",
    "xray:PutTelemetryRecords": "X-Ray telemetry writes have no resource type",
    "xray:GetSamplingRules": "X-Ray sampling reads have no resource type (state machine tracing)",
    "xray:GetSamplingTargets": "X-Ray sampling reads have no resource type (state machine tracing)",
    "ecr:GetAuthorizationToken": "the registry login token is account-wide; image pulls are scoped to the repository",
    "logs:CreateLogDelivery": "vended log delivery (Step Functions logging) has no resource-level permissions",
    "logs:GetLogDelivery": "vended log delivery has no resource-level permissions",
    "logs:UpdateLogDelivery": "vended log delivery has no resource-level permissions",
    "logs:DeleteLogDelivery": "vended log delivery has no resource-level permissions",
    "logs:ListLogDeliveries": "vended log delivery has no resource-level permissions",
    "logs:PutResourcePolicy": "the log resource policy for vended logs is account-wide",
    "logs:DescribeResourcePolicies": "the log resource policy for vended logs is account-wide",
    "logs:DescribeLogGroups": "Step Functions lists log groups when it sets up vended logs",
}
# Wildcard actions, by the file and policy document that may hold them.
ALLOWED_WILDCARD_ACTIONS = {
    ("bootstrap/main.tf", "state_key", "kms:*"): (
        "the AWS default key policy: the account root administers the state key and delegates its use to IAM; "
        "'*' in a key policy is the key itself"
    ),
    ("modules/stack/main.tf", "alarms_key", "kms:*"): (
        "the AWS default key policy of the alarm topic's key; CloudWatch gets only GenerateDataKey and Decrypt"
    ),
}
# In a key policy the Resource "*" is the key itself.
KEY_POLICY_DOCUMENTS = {("bootstrap/main.tf", "state_key"), ("modules/stack/main.tf", "alarms_key")}


# -- reading HCL ----------------------------------------------------------------------------------------------------
def _unquote(value: Any) -> Any:
    # python-hcl2 >= 5 keeps string literals' quotes ("\"s3:GetObject\""); older versions strip them.
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _normalise(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            _unquote(key): _normalise(value)
            for key, value in node.items()
            if not (isinstance(key, str) and key.startswith("__") and key.endswith("__"))
        }
    if isinstance(node, list):
        return [_normalise(item) for item in node]
    return _unquote(node)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found = body.get(name, [])
    return found if isinstance(found, list) else [found]


@dataclass
class Block:
    module: str
    file: str
    kind: str
    type: str
    name: str
    body: dict[str, Any]

    def attr(self, name: str) -> str:
        assert name in self.body, f"{self.type}.{self.name} ({self.file}) sets no {name}"
        return str(self.body[name])

    def dynamic(self, name: str) -> dict[str, Any]:
        for dynamic in _blocks(self.body, "dynamic"):
            if name in dynamic:
                return dynamic[name]
        raise AssertionError(f"{self.type}.{self.name} ({self.file}) has no dynamic {name!r} block")

    def text(self) -> str:
        return json.dumps(self.body)


class Terraform:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, dict[str, Any]] = {}
        for path in sorted(root.rglob("*.tf")):
            if ".terraform" in path.parts:
                continue
            with path.open() as handle:
                self.files[path.relative_to(root).as_posix()] = _normalise(hcl2.load(handle))

    @staticmethod
    def module_of(file: str) -> str:
        return file.rsplit("/", 1)[0]

    def _entities(self, kind: str) -> list[Block]:
        found = []
        for file, tree in self.files.items():
            for entry in tree.get(kind, []):
                for type_, named in entry.items():
                    for name, body in named.items():
                        found.append(Block(self.module_of(file), file, kind, type_, name, body))
        return found

    @cached_property
    def resources(self) -> list[Block]:
        return self._entities("resource")

    @cached_property
    def data_sources(self) -> list[Block]:
        return self._entities("data")

    def resource(self, module: str, type_: str, name: str) -> Block:
        matches = [r for r in self.resources if r.module == module and r.type == type_ and r.name == name]
        assert matches, f"{module} declares no resource {type_}.{name}"
        return matches[0]

    def locals(self, module: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for file, tree in self.files.items():
            if self.module_of(file) == module:
                for block in tree.get("locals", []):
                    merged.update(block)
        return merged

    def module_calls(self, module: str) -> dict[str, dict[str, Any]]:
        calls: dict[str, dict[str, Any]] = {}
        for file, tree in self.files.items():
            if self.module_of(file) == module:
                for block in tree.get("module", []):
                    calls.update(block)
        return calls

    def variables(self, module: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for file, tree in self.files.items():
            if self.module_of(file) == module:
                for block in tree.get("variable", []):
                    found.update(block)
        return found

    def text(self, module: str) -> str:
        return json.dumps([tree for file, tree in self.files.items() if self.module_of(file) == module])

    def expand(self, module: str, expression: Any, depth: int = 6) -> str:
        """The expression with the module's locals it names substituted (recursively), as text."""
        text = _text(expression)
        local_values = self.locals(module)
        for _ in range(depth):
            names = set(re.findall(r"local\.([A-Za-z_][A-Za-z0-9_]*)", text)) & set(local_values)
            if not names:
                break
            for name in names:
                text = re.sub(rf"local\.{name}\b", lambda _m, n=name: f"({_text(local_values[n])})", text)
        return text

    def iterates_manifest(self, module: str, expression: Any, section: str) -> bool:
        # After substitution `local.manifest.buckets` reads `(${var.manifest}).buckets`.
        return re.search(rf"manifest[}})]*\.{section}\b", self.expand(module, expression)) is not None


@pytest.fixture(scope="module")
def tf() -> Terraform:
    return Terraform(INFRA)


def uses(text: str, field: str) -> bool:
    """Whether an expression reads ``field`` of a manifest entry (``each.value.field``, ``bucket.field``...)."""
    return re.search(rf"\.{re.escape(field)}\b", text) is not None


def assert_maps(block: Block, mapping: dict[str, str], via: str = "each.value") -> None:
    for argument, field in mapping.items():
        assert f"{via}.{field}" in block.attr(argument), f"{block.type}.{block.name}.{argument} is not {via}.{field}"


# -- the manifest reaches every module -------------------------------------------------------------------------------
def test_stack_reads_the_manifest_with_jsondecode_and_hands_it_to_every_module(tf: Terraform) -> None:
    manifest_local = str(tf.locals(STACK)["manifest"])
    assert "jsondecode(file(" in manifest_local
    assert "infra/resources.json" in manifest_local or "resources.json" in tf.text(STACK)
    calls = tf.module_calls(STACK)
    for module in ("storage", "data", "messaging", "compute", "orchestration"):
        assert module in calls, f"the stack does not use the {module} module"
        assert calls[module]["manifest"] == "${local.manifest}", f"module {module} does not get the manifest"
        assert calls[module]["source"] == f"../{module}"


@pytest.mark.parametrize("env", ["dev", "local"])
def test_environments_use_the_same_stack_module_with_a_pinned_provider(tf: Terraform, env: str) -> None:
    module = f"envs/{env}"
    assert tf.module_calls(module)["stack"]["source"] == "../../modules/stack"
    for file, tree in tf.files.items():
        if tf.module_of(file) == module:
            for block in tree.get("terraform", []):
                for providers in _blocks(block, "required_providers"):
                    aws = providers["aws"]
                    assert aws["source"] == "hashicorp/aws"
                    assert re.fullmatch(r"~> 5\.\d+(\.\d+)?", aws["version"]), aws["version"]


def test_dev_uses_a_locked_s3_backend_and_local_uses_localstack(tf: Terraform) -> None:
    backend = tf.files["envs/dev/versions.tf"]["terraform"][0]["backend"][0]
    assert "s3" in backend
    outputs = json.dumps(tf.files["bootstrap/outputs.tf"])
    assert "dynamodb_table" in outputs, "the bootstrap's backend configuration must name the lock table"
    provider = tf.files["envs/local/main.tf"]["provider"][0]["aws"]
    assert provider["skip_credentials_validation"] is True
    assert provider["s3_use_path_style"] is True
    assert "localhost:4566" in json.dumps(tf.variables("envs/local")["endpoint"])


def test_every_manifest_field_is_read_by_terraform(tf: Terraform) -> None:
    """A field added to the manifest fails here until Terraform reads it (or it is listed as build-only)."""
    build_only = {
        ("lambda_package", "source_packages"): "read by `smmu package`, not by Terraform",
        ("lambda_package", "dependencies"): "installed into the zip by `smmu package --with-dependencies`",
    }
    owners = {
        "buckets": STORAGE,
        "tables": DATA,
        "queues": MESSAGING,
        "functions": COMPUTE,
        "lambda_package": COMPUTE,
        "state_machines": ORCHESTRATION,
        "services": COMPUTE,
        "workers": COMPUTE,
    }

    def fields(node: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(node, dict):
            for key, value in node.items():
                found.add(key)
                if isinstance(value, dict | list):
                    found |= fields(value)
        elif isinstance(node, list):
            for item in node:
                found |= fields(item)
        return found

    for section, module in owners.items():
        entries = MANIFEST.get(section, {})
        if section == "lambda_package":
            names = set(entries)
        else:
            names = set().union(*(fields(entry) for entry in entries.values())) if entries else set()
        # Inside nested maps keyed by data (attributes, function_placeholders) only the map's own name matters.
        for entry in entries.values() if section != "lambda_package" else []:
            for mapping in ("attributes", "function_placeholders", "queue_placeholders", "environment"):
                if isinstance(entry.get(mapping), dict):
                    names -= set(entry[mapping]) - {mapping}
        text = tf.text(module)
        for name in sorted(names):
            if (section, name) in build_only:
                continue
            assert uses(text, name), f"manifest {section}.*.{name} is not read by {module}"
    missing = set(MANIFEST) - set(owners) - {"$comment", "project", "environment"}
    assert not missing, f"manifest sections no Terraform module owns: {sorted(missing)}"


def test_environment_references_are_resolved_like_the_local_provisioner(tf: Terraform) -> None:
    stack = tf.locals(STACK)
    environment = str(stack["environment"])
    assert "local.manifest.environment" in environment
    assert "local.references[value]" in environment, "references must be looked up (an unknown one fails the plan)"
    references = str(stack["references"])
    kinds = {value.partition(":")[0] for value in MANIFEST["environment"].values() if ":" in value}
    for kind in kinds:
        assert f'"{kind}:${{key}}"' in references, f"environment references of kind {kind!r} are not resolved"
    function = tf.resource(COMPUTE, "aws_lambda_function", "this")
    assert "var.environment" in json.dumps(_blocks(function.body, "environment"))
    assert tf.module_calls(STACK)["compute"]["environment"] == "${local.environment}"


# -- storage ---------------------------------------------------------------------------------------------------------
def test_buckets_take_names_versioning_expiry_cors_and_notifications_from_the_manifest(tf: Terraform) -> None:
    bucket = tf.resource(STORAGE, "aws_s3_bucket", "this")
    assert tf.iterates_manifest(STORAGE, bucket.attr("for_each"), "buckets")
    assert "each.value.name" in bucket.attr("bucket")

    versioning = tf.resource(STORAGE, "aws_s3_bucket_versioning", "this")
    assert uses(tf.expand(STORAGE, versioning.attr("for_each")), "versioning")
    assert tf.iterates_manifest(STORAGE, versioning.attr("for_each"), "buckets")

    lifecycle = tf.resource(STORAGE, "aws_s3_bucket_lifecycle_configuration", "this")
    assert "each.value.expire_after_days" in lifecycle.dynamic("rule")["for_each"]
    assert "abort_incomplete_multipart_upload" in lifecycle.text()

    cors = tf.resource(STORAGE, "aws_s3_bucket_cors_configuration", "this")
    assert tf.iterates_manifest(STORAGE, cors.attr("for_each"), "buckets")
    assert "each.value.cors_allowed_methods" in json.dumps(_blocks(cors.body, "cors_rule"))

    notification = tf.resource(STORAGE, "aws_s3_bucket_notification", "this")
    assert tf.iterates_manifest(STORAGE, notification.attr("for_each"), "buckets")
    queue = notification.dynamic("queue")
    assert queue["for_each"] == "${each.value.notifications}"
    content = queue["content"][0]
    assert "queue.value.events" in content["events"]
    assert "queue.value.prefix" in content["filter_prefix"]
    assert "queue.value.queue" in content["queue_arn"]
    notified = {n["queue"] for b in MANIFEST["buckets"].values() for n in b["notifications"]}
    assert notified <= set(MANIFEST["queues"]), "a bucket notifies a queue the manifest does not declare"


def test_every_bucket_is_private_encrypted_and_tls_only(tf: Terraform) -> None:
    for type_ in (
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_policy",
    ):
        block = tf.resource(STORAGE, type_, "this")
        assert block.attr("for_each") in ("${aws_s3_bucket.this}", "${local.buckets}")
    policy = next(d for d in tf.data_sources if d.module == STORAGE and d.name == "bucket")
    assert "aws:SecureTransport" in policy.text()


def test_upload_and_output_prefixes_match_the_key_scheme(tf: Terraform) -> None:
    keys = (REPO / "smmu" / "keys.py").read_text()
    upload = re.search(r'UPLOAD_PREFIX = "([^"]+)"', keys).group(1)
    output = re.search(r'OUTPUT_PREFIX = "([^"]+)"', keys).group(1)
    assert tf.variables(COMPUTE)["upload_prefix"]["default"] == upload
    assert tf.variables(COMPUTE)["output_prefix"]["default"] == output
    # The buckets' expiration rules apply to the uploads and the outputs (the manifest's expire_prefix).
    buckets = json.loads((REPO / "infra" / "resources.json").read_text())["buckets"]
    assert (buckets["raw"]["expire_prefix"], buckets["processed"]["expire_prefix"]) == (upload, output)


# -- data ------------------------------------------------------------------------------------------------------------
def test_tables_take_keys_attributes_gsis_and_ttl_from_the_manifest(tf: Terraform) -> None:
    table = tf.resource(DATA, "aws_dynamodb_table", "this")
    assert tf.iterates_manifest(DATA, table.attr("for_each"), "tables")
    assert_maps(table, {"name": "name", "hash_key": "hash_key"})

    attribute = table.dynamic("attribute")
    assert attribute["for_each"] == "${each.value.attributes}"
    assert attribute["content"][0] == {"name": "${attribute.key}", "type": "${attribute.value}"}

    gsi = table.dynamic("global_secondary_index")
    assert gsi["for_each"] == "${each.value.global_secondary_indexes}"
    argument_for = {"name": "name", "hash_key": "hash_key", "range_key": "range_key", "projection": "projection_type"}
    content = gsi["content"][0]
    for spec in MANIFEST["tables"].values():
        for index in spec["global_secondary_indexes"]:
            for field in index:
                assert field in argument_for, f"GSI field {field!r} has no Terraform argument in this test's map"
                assert f"global_secondary_index.value.{field}" in str(content.get(argument_for[field])), field

    ttl = table.dynamic("ttl")
    assert re.search(r'each\.value\.ttl_attribute != ""', ttl["for_each"]), "TTL only where the manifest names one"
    assert ttl["content"][0]["attribute_name"] == "${ttl.value}"
    assert _blocks(table.body, "point_in_time_recovery")[0]["enabled"] is True
    assert _blocks(table.body, "server_side_encryption")[0]["enabled"] is True


def test_manifest_tables_define_exactly_their_key_attributes() -> None:
    # DynamoDB rejects attribute definitions no key or index uses, and keys without a definition.
    for name, spec in MANIFEST["tables"].items():
        keys = {spec["hash_key"], spec.get("range_key")} - {None}
        for index in spec["global_secondary_indexes"]:
            keys |= {index["hash_key"], index.get("range_key")} - {None}
        assert keys == set(spec["attributes"]), f"table {name}: keys {sorted(keys)} vs {sorted(spec['attributes'])}"


# -- messaging -------------------------------------------------------------------------------------------------------
def test_queues_take_timeouts_retention_and_redrive_from_the_manifest(tf: Terraform) -> None:
    shape = {
        "name": "name",
        "visibility_timeout_seconds": "visibility_timeout_seconds",
        "message_retention_seconds": "message_retention_seconds",
        "receive_wait_time_seconds": "receive_wait_time_seconds",
    }
    standalone = tf.resource(MESSAGING, "aws_sqs_queue", "standalone")
    redriven = tf.resource(MESSAGING, "aws_sqs_queue", "redriven")
    for queue in (standalone, redriven):
        assert tf.iterates_manifest(MESSAGING, queue.attr("for_each"), "queues")
        assert_maps(queue, shape)
    assert 'dead_letter_queue == ""' in tf.expand(MESSAGING, standalone.attr("for_each"))
    assert 'dead_letter_queue != ""' in tf.expand(MESSAGING, redriven.attr("for_each"))
    redrive = redriven.attr("redrive_policy")
    assert re.search(r"maxReceiveCount\W+(= )?\W*each\.value\.max_receive_count\b", redrive), redrive
    assert "aws_sqs_queue.standalone[each.value.dead_letter_queue].arn" in redrive
    for key, spec in MANIFEST["queues"].items():
        if spec["dead_letter_queue"]:
            target = MANIFEST["queues"][spec["dead_letter_queue"]]
            assert target["dead_letter_queue"] == "", f"{key}: a dead-letter queue must not redrive itself"
            assert spec["max_receive_count"] > 0


def test_dead_letter_queues_and_work_queues_raise_alarms(tf: Terraform) -> None:
    depth = tf.resource(MESSAGING, "aws_cloudwatch_metric_alarm", "dead_letter_depth")
    age = tf.resource(MESSAGING, "aws_cloudwatch_metric_alarm", "oldest_message_age")
    assert "ApproximateNumberOfMessagesVisible" in depth.attr("metric_name")
    assert "ApproximateAgeOfOldestMessage" in age.attr("metric_name")
    assert "dead_letter_queue" in tf.expand(MESSAGING, depth.attr("for_each"))


# -- compute ---------------------------------------------------------------------------------------------------------
def test_functions_take_handler_memory_timeout_and_runtime_from_the_manifest(tf: Terraform) -> None:
    function = tf.resource(COMPUTE, "aws_lambda_function", "this")
    assert tf.iterates_manifest(COMPUTE, function.attr("for_each"), "functions")
    assert_maps(
        function,
        {"function_name": "name", "handler": "handler", "memory_size": "memory_mb", "timeout": "timeout_seconds"},
    )
    assert tf.iterates_manifest(COMPUTE, function.attr("runtime"), "lambda_package")
    assert "runtime" in function.attr("runtime")
    assert "architecture" in function.attr("architectures")
    assert "var.functions_zip_path" in function.attr("filename")
    assert "filebase64sha256(var.functions_zip_path)" in function.attr("source_code_hash")
    # Third-party packages are inside the zip (LocalStack's free edition mounts no layers): no layer at all.
    assert "layers" not in function.body
    assert "aws_lambda_layer_version" not in tf.text(COMPUTE)
    assert "aws_iam_role.function[each.key]" in function.attr("role")


def test_event_source_mappings_take_batching_and_partial_failures_from_the_manifest(tf: Terraform) -> None:
    mapping = tf.resource(COMPUTE, "aws_lambda_event_source_mapping", "this")
    expanded = tf.expand(COMPUTE, mapping.attr("for_each"))
    assert tf.iterates_manifest(COMPUTE, mapping.attr("for_each"), "functions") and "event_source" in expanded
    argument_for = {
        "queue": "event_source_arn",
        "batch_size": "batch_size",
        "maximum_batching_window_seconds": "maximum_batching_window_in_seconds",
        "report_batch_item_failures": "function_response_types",
    }
    sources = [f["event_source"] for f in MANIFEST["functions"].values() if "event_source" in f]
    assert sources, "the manifest names no event source: nothing feeds the pipeline"
    for source in sources:
        for field in source:
            assert field in argument_for, f"event source field {field!r} has no Terraform argument in this test's map"
            assert f"each.value.{field}" in mapping.attr(argument_for[field]), field
    assert "ReportBatchItemFailures" in mapping.attr("function_response_types")


def test_scheduled_functions_run_on_their_manifest_schedule(tf: Terraform) -> None:
    rule = tf.resource(COMPUTE, "aws_cloudwatch_event_rule", "schedule")
    assert tf.iterates_manifest(COMPUTE, rule.attr("for_each"), "functions")
    assert "schedule" in tf.expand(COMPUTE, rule.attr("for_each"))
    assert rule.attr("schedule_expression") == "${each.value}"
    target = tf.resource(COMPUTE, "aws_cloudwatch_event_target", "schedule")
    assert "aws_lambda_function.this[each.key].arn" in target.attr("arn")
    permission = tf.resource(COMPUTE, "aws_lambda_permission", "schedule")
    assert permission.attr("principal") == "events.amazonaws.com"
    assert "aws_cloudwatch_event_rule.schedule[each.key].arn" in permission.attr("source_arn")


def test_every_function_and_task_has_its_own_role_with_declared_permissions(tf: Terraform) -> None:
    role = tf.resource(COMPUTE, "aws_iam_role", "function")
    assert tf.iterates_manifest(COMPUTE, role.attr("for_each"), "functions")
    statements = tf.locals(COMPUTE)["function_statements"]
    missing = set(MANIFEST["functions"]) - set(statements)
    assert not missing, f"functions without declared permissions in compute/iam.tf: {sorted(missing)}"
    service_statements = tf.locals(COMPUTE)["service_statements"]
    assert set(MANIFEST.get("services", {})) <= set(service_statements), "a service has no declared permissions"
    for name in ("task", "execution"):
        task_role = tf.resource(COMPUTE, "aws_iam_role", name)
        assert task_role.attr("for_each") == "${local.tasks}"
    definition = tf.resource(COMPUTE, "aws_ecs_task_definition", "this")
    assert "aws_iam_role.task[each.key].arn" in definition.attr("task_role_arn")
    assert "aws_iam_role.execution[each.key].arn" in definition.attr("execution_role_arn")


def test_task_definitions_run_the_images_the_manifest_names(tf: Terraform) -> None:
    compute = tf.locals(COMPUTE)
    assert "try(local.manifest.workers, {})" in str(compute["workers"]), "workers must be optional in the manifest"
    assert tf.iterates_manifest(COMPUTE, compute["services"], "services")
    tasks = tf.expand(COMPUTE, "local.tasks")
    assert "service.image" in tasks and "worker.image" in tasks
    images = tf.expand(COMPUTE, "local.images")
    assert "service.image" in images and "worker.image" in images
    repository = tf.resource(COMPUTE, "aws_ecr_repository", "this")
    assert repository.attr("for_each") == "${local.images}"
    definition = tf.resource(COMPUTE, "aws_ecs_task_definition", "this")
    assert definition.attr("for_each") == "${local.tasks}"
    containers = definition.attr("container_definitions")
    assert "aws_ecr_repository.this[each.value.image].repository_url" in containers
    assert "each.value.command" in containers
    assert_maps(definition, {"cpu": "cpu", "memory": "memory_mb"})


def test_services_take_count_port_and_health_check_from_the_manifest(tf: Terraform) -> None:
    service = tf.resource(COMPUTE, "aws_ecs_service", "service")
    assert service.attr("for_each") == "${local.services}"
    assert_maps(service, {"desired_count": "desired_count"})
    target_group = tf.resource(COMPUTE, "aws_lb_target_group", "service")
    assert "each.value.container_port" in target_group.attr("port")
    assert "each.value.health_check_path" in json.dumps(_blocks(target_group.body, "health_check"))
    for spec in MANIFEST.get("services", {}).values():
        assert spec["health_check_path"].startswith("/")


def test_workers_scale_on_their_queue_backlog_per_task(tf: Terraform) -> None:
    worker = tf.resource(COMPUTE, "aws_ecs_service", "worker")
    assert worker.attr("for_each") == "${local.workers}"
    target = tf.resource(COMPUTE, "aws_appautoscaling_target", "worker")
    assert "min_count" in target.attr("min_capacity") and "max_count" in target.attr("max_capacity")
    policy = tf.resource(COMPUTE, "aws_appautoscaling_policy", "worker_backlog")
    text = policy.text()
    assert "ApproximateNumberOfMessagesVisible" in text and "RunningTaskCount" in text
    assert "manifest.queues[each.value.queue].name" in text
    for key, spec in MANIFEST.get("workers", {}).items():
        assert spec["queue"] in MANIFEST["queues"], f"worker {key} consumes a queue the manifest does not declare"
        assert spec["image"], f"worker {key} names no image"


# -- orchestration ---------------------------------------------------------------------------------------------------
def _placeholders(definition: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", (REPO / definition).read_text()))


def test_state_machines_are_declared_from_the_manifest(tf: Terraform) -> None:
    machine = tf.resource(ORCHESTRATION, "aws_sfn_state_machine", "this")
    assert tf.iterates_manifest(ORCHESTRATION, machine.attr("for_each"), "state_machines")
    assert_maps(machine, {"name": "name", "type": "type"})
    definition = machine.attr("definition")
    assert definition.startswith("${templatefile(")
    assert "each.value.definition" in definition and "local.template_vars[each.key]" in definition
    assert _blocks(machine.body, "tracing_configuration")[0]["enabled"] is True
    logging = _blocks(machine.body, "logging_configuration")[0]
    assert "aws_cloudwatch_log_group.machine[each.key].arn" in logging["log_destination"]
    alarm = tf.resource(ORCHESTRATION, "aws_cloudwatch_metric_alarm", "executions_failed")
    assert alarm.attr("metric_name") == "ExecutionsFailed"


@pytest.mark.parametrize("machine_key", sorted(MANIFEST["state_machines"]))
def test_every_asl_placeholder_is_supplied_to_templatefile(tf: Terraform, machine_key: str) -> None:
    machine = MANIFEST["state_machines"][machine_key]
    placeholders = _placeholders(machine["definition"])
    assert placeholders, f"{machine['definition']} has no placeholders: is it the template?"
    template_vars = str(tf.locals(ORCHESTRATION)["template_vars"])
    supplied: dict[str, str] = {}
    sources = {"function_placeholders": "functions", "queue_placeholders": "queues"}
    for field, section in sources.items():
        # Terraform builds templatefile's variables from these manifest maps...
        assert f"machine.{field}" in template_vars, f"templatefile variables are not built from {field}"
        for placeholder, key in machine.get(field, {}).items():
            assert key in MANIFEST[section], f"{placeholder} names {key!r}, which the manifest's {section} lacks"
            supplied[placeholder] = key
    assert "var.function_arns[function]" in template_vars and "var.queue_urls[queue]" in template_vars
    # ... so every placeholder in the ASL file must be a key of one of them.
    unsupplied = placeholders - set(supplied)
    assert not unsupplied, f"{machine['definition']} placeholders templatefile() would not get: {sorted(unsupplied)}"


def test_state_machine_role_invokes_only_its_steps(tf: Terraform) -> None:
    invoked = str(tf.locals(ORCHESTRATION)["invoked_functions"])
    assert "machine.function_placeholders" in invoked
    policy = next(d for d in tf.data_sources if d.module == ORCHESTRATION and d.name == "machine")
    statement = next(s for s in _blocks(policy.body, "statement") if s.get("sid") == "InvokeSteps")
    assert statement["actions"] == ["lambda:InvokeFunction"]
    assert "local.invoked_functions[each.key]" in str(statement["resources"])


# -- IAM -------------------------------------------------------------------------------------------------------------
def _statements(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every IAM statement written in the HCL: policy document statements and the statement objects in locals."""
    found = []
    if isinstance(node, dict):
        if "actions" in node or "not_actions" in node:
            found.append((path, node))
        for key, value in node.items():
            found += _statements(value, (*path, str(key)))
    elif isinstance(node, list):
        for item in node:
            found += _statements(item, path)
    return found


def test_policies_grant_named_actions_on_named_resources(tf: Terraform) -> None:
    problems = []
    checked = 0
    for file, tree in tf.files.items():
        for path, statement in _statements(tree):
            document = path[2] if len(path) > 2 and path[0] == "data" else ".".join(path)
            assert "not_actions" not in statement and "not_resources" not in statement, f"{file} {document}"
            if str(statement.get("effect", "Allow")) == "Deny":
                continue  # a Deny of s3:* (TLS only) restricts, it grants nothing
            checked += 1
            actions = statement["actions"] if isinstance(statement["actions"], list) else [statement["actions"]]
            resources = statement.get("resources", [])
            resources = resources if isinstance(resources, list) else [resources]
            for action in actions:
                if "*" in str(action) and (file, document, action) not in ALLOWED_WILDCARD_ACTIONS:
                    problems.append(f"{file} {document}: wildcard action {action}")
            if "*" in resources and (file, document) not in KEY_POLICY_DOCUMENTS:
                literal = [a for a in actions if not str(a).startswith("${")]
                for action in literal:
                    if action not in ALLOWED_STAR_RESOURCE:
                        problems.append(f"{file} {document}: {action} on resource '*'")
                if len(literal) != len(actions):
                    problems.append(f"{file} {document}: computed actions on resource '*'")
    assert checked > 20, "no IAM statements found: has the parser's output changed?"
    assert not problems, "\n".join(problems)


def test_every_policy_attribute_is_a_policy_document(tf: Terraform) -> None:
    """Policies are written as aws_iam_policy_document, so the test above sees every statement."""
    policy_attributes = {"policy", "assume_role_policy"}
    documents = 0
    for resource in tf.resources:
        for attribute in policy_attributes & set(resource.body):
            value = str(resource.body[attribute])
            if resource.type == "aws_ecr_lifecycle_policy":
                continue  # an image expiry rule, not IAM
            documents += 1
            assert re.search(r"data\.aws_iam_policy_document\.\w+|each\.value\.json", value), (
                f"{resource.file} {resource.type}.{resource.name}.{attribute} is not an aws_iam_policy_document"
            )
    assert documents >= 10


def test_worker_callbacks_are_scoped_to_the_stacks_state_machines(tf: Terraform) -> None:
    statements = str(tf.locals(COMPUTE)["worker_statements"])
    assert "states:SendTaskSuccess" in statements
    assert "values(var.state_machine_arns)" in statements
    assert "var.queue_arns[worker.queue]" in statements


@pytest.mark.parametrize("module", [STACK, COMPUTE, STORAGE, "envs/dev"])
def test_no_open_defaults_for_who_may_reach_the_api_or_the_buckets(tf: Terraform, module: str) -> None:
    variables = tf.variables(module)
    for name in ("alb_ingress_cidrs", "cors_allowed_origins"):
        if name in variables:
            assert _unquote(variables[name].get("default")) == [], f"{module}: {name} must default to none"


def test_https_unless_plain_http_is_asked_for(tf: Terraform) -> None:
    assert _unquote(tf.variables(COMPUTE)["allow_plain_http"]["default"]) is False
    plain = tf.resource(COMPUTE, "aws_lb_listener", "http_forward")
    assert "var.allow_plain_http" in plain.attr("count")
    redirect = tf.resource(COMPUTE, "aws_lb_listener", "http_redirect")
    assert "HTTPS" in redirect.text() and "HTTP_301" in redirect.text()
    balancer = tf.resource(COMPUTE, "aws_lb", "api")
    assert "var.certificate_arn != null || var.allow_plain_http" in balancer.text()


def test_the_optional_waf_rate_limits_each_address(tf: Terraform) -> None:
    acl = tf.resource(COMPUTE, "aws_wafv2_web_acl", "api")
    assert "var.waf_rate_limit != null" in acl.attr("count")
    assert "rate_based_statement" in acl.text() and '"IP"' in acl.text().replace("'", '"')
    association = tf.resource(COMPUTE, "aws_wafv2_web_acl_association", "api")
    assert "aws_lb.api" in association.text()


def test_the_api_role_reads_keys_and_counts_usage_only(tf: Terraform) -> None:
    statements = {s["sid"]: s for s in _normalise(tf.locals(COMPUTE)["service_statements"]["api"])}
    assert statements["ApiKeys"]["actions"] == ["dynamodb:GetItem"]
    assert statements["ApiKeys"]["resources"] == ["${local.api_keys_table}"]
    assert statements["UsageCounters"]["actions"] == ["dynamodb:UpdateItem"]
    assert statements["UsageCounters"]["resources"] == ["${local.usage_table}"]
    everything = json.dumps(list(statements.values()))
    assert "api_keys_table" not in everything.replace('"${local.api_keys_table}"', "")  # nowhere else
