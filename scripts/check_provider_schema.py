"""Check the Terraform under infra/ against the AWS provider's schema: the nearest thing to `terraform validate`
where the provider itself cannot be downloaded.

The schema comes from the npm package @cdktf/provider-aws (CDK for Terraform's generated bindings of
hashicorp/aws): its jsii manifest (.jsii) describes, for every resource and data source, the configuration
struct with one property per argument and nested block, each linking to the provider's documentation anchor,
which is the argument's own snake_case name, and marked optional or not.

    python scripts/check_provider_schema.py extract PACKAGE_DIR SCHEMA_JSON   # .jsii -> compact schema (once)
    python scripts/check_provider_schema.py check SCHEMA_JSON [INFRA_DIR]     # exits 1 on any finding

Findings: an unknown resource or data source type, an argument or nested block that the type does not have
(a misspelling), and a required argument or block that is missing. Meta-arguments (count, for_each, depends_on,
provider, lifecycle, ...) are Terraform's own and always allowed. An argument whose value hides what it sets
(a `dynamic` block's content is checked like the block itself) is still checked by name.
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}
# The docs link in each property's jsii documentation ends in "#<snake_case argument name>".
_ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/providers/hashicorp/aws/[^ ]*#([a-z0-9_]+) ")
_ASSEMBLY = "@cdktf/provider-aws."

Schema = dict[str, Any]  # {"arguments": {name: {"required": bool, "block": Schema | None}}}


# -- extract ----------------------------------------------------------------------------------------------------
def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def _struct_fqn(type_ref: dict[str, Any], types: dict[str, Any]) -> str | None:
    """The provider struct a property's type refers to (directly, in a collection or in a union), if any."""
    if "fqn" in type_ref:
        fqn = type_ref["fqn"]
        found = types.get(fqn)
        return fqn if found and found.get("datatype") and fqn.startswith(_ASSEMBLY) else None
    if "collection" in type_ref:
        return _struct_fqn(type_ref["collection"]["elementtype"], types)
    for member in type_ref.get("union", {}).get("types", []):
        if fqn := _struct_fqn(member, types):
            return fqn
    return None


def _struct(fqn: str, types: dict[str, Any], seen: tuple[str, ...] = ()) -> Schema:
    arguments: dict[str, Any] = {}
    for prop in types[fqn].get("properties", []):
        docs = prop.get("docs", {})
        anchor = _ANCHOR.search(docs.get("summary", "") + " " + docs.get("remarks", ""))
        name = anchor.group(1) if anchor else _snake(prop["name"])
        nested = _struct_fqn(prop["type"], types)
        arguments[name] = {
            "required": not prop.get("optional", False),
            "block": _struct(nested, types, (*seen, fqn)) if nested and nested not in seen else None,
        }
    return {"arguments": arguments}


def extract(package_dir: Path, out: Path) -> None:
    types = json.loads((package_dir / ".jsii").read_text())["types"]
    # lib/<dir>/index.js sets `<Class>.tfResourceType = "<terraform type>"`.
    resource_types: dict[str, str] = {}
    for index in sorted((package_dir / "lib").glob("*/index.js")):
        for cls, tf_type in re.findall(r'^(\w+)\.tfResourceType = "(\w+)";', index.read_text(), re.M):
            resource_types[f"src/{index.parent.name}/index.ts:{cls}"] = tf_type
    schema: dict[str, dict[str, Schema]] = {"resource": {}, "data": {}, "provider": {}}
    for _fqn, spec in types.items():
        location = spec.get("locationInModule", {}).get("filename")
        tf_type = resource_types.get(f"{location}:{spec['name']}")
        if spec.get("kind") != "class" or not tf_type:
            continue
        config = next(p for p in spec["initializer"]["parameters"] if p["name"] == "config")
        body = _struct(config["type"]["fqn"], types)
        if location == "src/provider/index.ts":
            schema["provider"][tf_type] = body
        elif location.startswith("src/data-aws-"):
            schema["data"][tf_type] = body
        else:
            schema["resource"][tf_type] = body
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(schema, sort_keys=True))
    counts = ", ".join(f"{len(v)} {k}" for k, v in schema.items())
    print(f"schema of @cdktf/provider-aws extracted: {counts} -> {out}")


# -- check ------------------------------------------------------------------------------------------------------
def _blocks(value: Any) -> list[dict[str, Any]]:
    """python-hcl2 gives a nested block as a list of dicts (one per occurrence)."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    return []


def _label(name: str) -> str:
    """A block label: newer python-hcl2 versions keep its quotes ("aws_s3_bucket"), older ones drop them."""
    return name.strip('"')


def _check_body(body: dict[str, Any], schema: Schema, where: str, findings: list[str], top: bool) -> None:
    arguments = schema["arguments"]
    present = set()
    for key, value in body.items():
        if key.startswith("__") or (top and key in META_ARGUMENTS):
            continue
        if key == "dynamic":  # dynamic "name" { for_each = ...  content { ... } } sets the block `name`
            for dynamic in _blocks(value):
                for quoted, spec in dynamic.items():
                    name = _label(quoted)
                    present.add(name)
                    if name not in arguments:
                        findings.append(f"{where}: unknown block '{name}' (dynamic)")
                    elif arguments[name]["block"] is not None:
                        for content in _blocks(spec.get("content", [])):
                            _check_body(content, arguments[name]["block"], f"{where}.{name}", findings, False)
            continue
        present.add(key)
        if key not in arguments:
            close = [a for a in arguments if _similar(a, key)]
            hint = f" (did you mean {', '.join(sorted(close))}?)" if close else ""
            findings.append(f"{where}: unknown argument '{key}'{hint}")
            continue
        nested = arguments[key]["block"]
        if nested is not None:
            for item in _blocks(value):
                _check_body(item, nested, f"{where}.{key}", findings, False)
    for name, spec in sorted(arguments.items()):
        if spec["required"] and name not in present:
            findings.append(f"{where}: missing required argument '{name}'")


def _similar(a: str, b: str) -> bool:
    from difflib import SequenceMatcher

    return SequenceMatcher(None, a, b).ratio() >= 0.8


def check(schema_path: Path, infra: Path) -> int:
    import hcl2  # only the check needs it (extract runs before any virtual environment exists)

    schema = json.loads(schema_path.read_text())
    findings: list[str] = []
    counted = {"resource": 0, "data": 0, "provider": 0}
    for path in sorted(infra.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        with path.open() as handle:
            parsed = hcl2.load(handle)
        rel = path.relative_to(infra.parent)
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for quoted_type, instances in block.items():
                    tf_type = _label(quoted_type)
                    for quoted_name, body in instances.items():
                        name = _label(quoted_name)
                        counted[kind] += 1
                        where = f"{rel}: {'data.' if kind == 'data' else ''}{tf_type}.{name}"
                        if tf_type not in schema[kind]:
                            findings.append(f"{where}: unknown {kind} type '{tf_type}'")
                            continue
                        _check_body(body, schema[kind][tf_type], where, findings, True)
        for block in parsed.get("provider", []):
            for quoted, body in block.items():
                provider = _label(quoted)
                if provider in schema["provider"]:
                    counted["provider"] += 1
                    _check_body(body, schema["provider"][provider], f"{rel}: provider {provider}", findings, True)
    for finding in findings:
        print(finding)
    summary = ", ".join(f"{n} {k} blocks" for k, n in counted.items())
    print(f"provider schema check: {summary} checked, {len(findings)} finding(s)")
    return 1 if findings else 0


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "extract":
        extract(Path(argv[1]), Path(argv[2]))
        return 0
    if len(argv) in (2, 3) and argv[0] == "check":
        return check(Path(argv[1]), Path(argv[2] if len(argv) == 3 else "infra"))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
