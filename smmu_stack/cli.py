"""``smmu``: run the system locally, provision an emulator, build packages, upload a file."""

import json
import logging
import mimetypes
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

if TYPE_CHECKING:
    from smmu.tenants import ApiKeyStore

app = typer.Typer(help="Smart Media Uploader developer commands.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: each belongs to a tenant; only their hashes are stored.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console()
#: Where ``smmu dev`` leaves the dev tenant's API key (relative to the repository or the current directory).
DEV_KEY_PATHS = (Path(".smmu") / "api-key", Path(__file__).resolve().parent.parent / ".smmu" / "api-key")


def _api_key(given: str | None) -> str | None:
    if given:
        return given
    for path in DEV_KEY_PATHS:
        if path.is_file():
            return path.read_text().strip()
    return None


def _parse_overrides(values: list[str]) -> dict[str, str]:
    overrides = {}
    for value in values:
        name, sep, setting = value.partition("=")
        if not sep or not name.startswith("SMMU_"):
            raise typer.BadParameter(f"expected SMMU_NAME=value, got {value!r}")
        overrides[name] = setting
    return overrides


def _serve(start: Callable[[], None], stop: Callable[[], None]) -> None:
    """Start, then serve until Ctrl-C or SIGTERM (as `docker stop` sends), and always stop cleanly."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        start()
        while not stopping.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop()


@app.command()
def dev(
    api_port: Annotated[int, typer.Option(help="Port of the API on 127.0.0.1")] = 8000,
    emulator_port: Annotated[int, typer.Option(help="Port of the embedded AWS emulator on 127.0.0.1")] = 4566,
    setting: Annotated[list[str], typer.Option("--set", help="SMMU_NAME=value for the API and functions")] = [],  # noqa: B006
    work_dir: Annotated[Path | None, typer.Option(help="Where function code and logs go (default .smmu)")] = None,
    workers: Annotated[bool, typer.Option(help="Run the FFmpeg and Whisper worker services")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the whole system on an embedded emulated cloud: no Docker, no AWS account."""
    from smmu_stack.embedded.stack import EmbeddedStack, StackConfig

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    config = StackConfig(
        api_port=api_port, emulator_port=emulator_port, overrides=_parse_overrides(setting), workers=workers
    )
    if work_dir is not None:
        config.work_dir = work_dir.resolve()
    stack = EmbeddedStack(config)
    started = time.perf_counter()

    def announce() -> None:
        stack.start()
        table = Table.grid(padding=(0, 2))
        table.add_row("API", stack.api_url)
        table.add_row("API docs", f"{stack.api_url}/docs")
        table.add_row("AWS endpoint", stack.endpoint_url)
        table.add_row("Logs", str(stack.config.work_dir))
        exports = " ".join(f"{k}={v}" for k, v in stack.client_environment().items())
        console.print(Panel(table, title=f"smmu is up ({time.perf_counter() - started:.1f}s)", expand=False))
        console.print(f"AWS CLI / boto3 against it: [bold]export {exports}[/]")
        # Printed whole, outside the panel, so a narrow terminal cannot cut it.
        console.print(f"API key of the dev tenant (also in {stack.config.work_dir / 'api-key'}):")
        print(stack.api_key, flush=True)
        console.print("Clients send it as [bold]Authorization: Bearer <key>[/]; smmu upload reads it from the file.")
        console.print("Try it: [bold]smmu upload some.jpg --wait[/]   Stop: Ctrl-C")
        console.print(f"SMMU_READY api={stack.api_url} endpoint={stack.endpoint_url}", highlight=False)

    _serve(announce, stack.stop)
    console.print("smmu stopped (the embedded cloud keeps no state between runs)")


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 inside a container)")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 4566,
    region: Annotated[str, typer.Option(envvar="AWS_DEFAULT_REGION")] = "us-east-1",
    work_dir: Annotated[Path, typer.Option(help="Where function code and logs go")] = Path(".smmu"),
) -> None:
    """Run only the emulated cloud (moto + Step Functions + Lambda executor), for a separate provisioner."""
    from smmu_stack.embedded.cloud import EmbeddedCloud

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    cloud = EmbeddedCloud(host, port, region, work_dir)

    def start() -> None:
        cloud.start()
        cloud.watch_provisioning()
        console.print(f"SMMU_EMULATOR_READY endpoint={cloud.endpoint_url}", highlight=False)

    _serve(start, cloud.stop)


@app.command()
def provision(
    endpoint_url: Annotated[str, typer.Option(envvar="AWS_ENDPOINT_URL", help="Emulator endpoint")],
    region: Annotated[str, typer.Option(envvar="AWS_DEFAULT_REGION")] = "us-east-1",
    dependencies: Annotated[
        Path | None,
        typer.Option(
            envvar="SMMU_LAMBDA_DEPENDENCIES",
            exists=True,
            file_okay=False,
            help="Directory of the functions' third-party packages (python -m smmu_stack.packaging dependencies), "
            "zipped with the code: for emulators that run Lambda's own runtime (LocalStack)",
        ),
    ] = None,
    dev_api_key: Annotated[
        str | None,
        typer.Option(
            envvar="SMMU_DEV_API_KEY", help="Register this API key for the 'dev' tenant (a local stack's key)"
        ),
    ] = None,
) -> None:
    """Apply the resource manifest to an emulator (idempotent)."""
    from smmu_stack.provision import provision as apply

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    result = apply(endpoint_url, region, dependencies=dependencies)
    if dev_api_key:
        _key_store(endpoint_url, region, result.environment["SMMU_API_KEYS_TABLE"]).create(
            "dev", name="dev stack", token=dev_api_key
        )
        result.changes.append("dev API key")
    console.print_json(json.dumps({"changes": result.changes, "environment": result.environment}))


@app.command()
def package(
    with_dependencies: Annotated[
        bool, typer.Option(help="Install the functions' third-party packages into the zip (for AWS and LocalStack)")
    ] = False,
    dependencies: Annotated[
        Path | None,
        typer.Option(
            envvar="SMMU_LAMBDA_DEPENDENCIES",
            exists=True,
            file_okay=False,
            help="Zip the packages already installed in this directory instead of installing them",
        ),
    ] = None,
) -> None:
    """Build the Lambda code package under build/lambda (with the third-party packages inside, if asked)."""
    from smmu_stack.packaging import build_code_package, build_dependencies, sha256

    if with_dependencies and dependencies is None:
        dependencies = build_dependencies()
    path = build_code_package(dependencies=dependencies)
    console.print(f"{path}  sha256={sha256(path)}")


@app.command()
def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    api: Annotated[str, typer.Option(envvar="SMMU_API_URL")] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str | None, typer.Option(envvar="SMMU_API_KEY", help="Defaults to the key `smmu dev` wrote in .smmu/api-key")
    ] = None,
    content_type: Annotated[str | None, typer.Option(help="Defaults to a guess from the file name")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the job to finish and show it")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait")] = 300,
) -> None:
    """Upload a file the way any client does: ask the API for a presigned POST, send the file to S3."""
    declared = content_type or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    key = _api_key(api_key)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=api, timeout=30, headers=headers) as client:
        created = client.post(
            "/v1/uploads",
            json={"filename": file.name, "content_type": declared, "size_bytes": file.stat().st_size},
        )
        if created.status_code != 201:
            console.print(f"[red]refused ({created.status_code}):[/] {created.json().get('detail')}")
            raise typer.Exit(1)
        body = created.json()
        with file.open("rb") as stream:
            sent = httpx.post(
                body["upload"]["url"],
                data=body["upload"]["fields"],
                files={"file": (file.name, stream, declared)},
            )
        if sent.status_code >= 300:
            console.print(f"[red]S3 refused the upload ({sent.status_code}):[/] {sent.text[:500]}")
            raise typer.Exit(1)
        console.print(f"job [bold]{body['job_id']}[/] uploaded")
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while True:
            job = client.get(f"/v1/jobs/{body['job_id']}").json()
            if job["status"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        console.print_json(json.dumps(job))
        if job["status"] != "COMPLETED":
            raise typer.Exit(1)


def _key_store(endpoint_url: str | None, region: str, table: str) -> "ApiKeyStore":
    import boto3

    from smmu.tenants import ApiKeyStore

    client = boto3.session.Session(region_name=region).client("dynamodb", endpoint_url=endpoint_url)
    return ApiKeyStore(table, client)


EndpointOption = Annotated[str | None, typer.Option(envvar="AWS_ENDPOINT_URL", help="Emulator endpoint; unset for AWS")]
RegionOption = Annotated[str, typer.Option(envvar="AWS_DEFAULT_REGION")]
TableOption = Annotated[str, typer.Option(envvar="SMMU_API_KEYS_TABLE", help="The API keys table")]


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant id: lowercase letters, digits and '-'")],
    name: Annotated[str, typer.Option(help="What the key is for")] = "",
    endpoint_url: EndpointOption = None,
    region: RegionOption = "us-east-1",
    table: TableOption = "smmu-api-keys",
) -> None:
    """Create an API key for a tenant and print it (once: only its hash is stored)."""
    try:
        token, key = _key_store(endpoint_url, region, table).create(tenant, name=name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print(f"key id {key.key_id} for tenant {key.tenant_id}; send it as 'Authorization: Bearer <key>':")
    print(token)


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys")] = None,
    endpoint_url: EndpointOption = None,
    region: RegionOption = "us-east-1",
    table: TableOption = "smmu-api-keys",
) -> None:
    """List API keys (ids, tenants, names, dates; never the keys themselves)."""
    listing = Table("key id", "tenant", "name", "created", "revoked")
    for key in _key_store(endpoint_url, region, table).list(tenant):
        listing.add_row(key.key_id, key.tenant_id, key.name, key.created_at, key.revoked_at or "")
    console.print(listing)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (as `smmu keys list` shows it)")],
    endpoint_url: EndpointOption = None,
    region: RegionOption = "us-east-1",
    table: TableOption = "smmu-api-keys",
) -> None:
    """Revoke an API key: requests with it are refused (401) from now on."""
    if not _key_store(endpoint_url, region, table).revoke(key_id):
        console.print(f"[red]no key with id {key_id}[/]")
        raise typer.Exit(1)
    console.print(f"key {key_id} revoked")


if __name__ == "__main__":
    app()
