"""``smmu``: run the system locally, provision an emulator, build packages, upload a file."""

import json
import logging
import mimetypes
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from smmu.validation import human_bytes

if TYPE_CHECKING:
    from smmu.tenants import ApiKeyStore
    from smmu_stack.dlq import DeadLetterQueue

app = typer.Typer(help="Smart Media Uploader developer commands.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: each belongs to a tenant; only their hashes are stored.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
jobs_app = typer.Typer(help="Your jobs: list, show, download their outputs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
console = Console()
#: Progress, live status and errors: stdout stays the command's answer (a summary, or --json).
err_console = Console(stderr=True)
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
        table.add_row("Web app", f"{stack.api_url}/app/")
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
        cloud.watch_dead_letters()
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
    cors_origins: Annotated[
        str | None,
        typer.Option(
            envvar="SMMU_CORS_ORIGINS",
            help='Browser origins the buckets admit (a JSON list, e.g. ["http://127.0.0.1:8000"]): the web app\'s',
        ),
    ] = None,
) -> None:
    """Apply the resource manifest to an emulator (idempotent)."""
    from smmu_stack.manifest import Manifest
    from smmu_stack.provision import provision as apply

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    manifest = Manifest.load()
    if cors_origins:
        manifest.data["environment"]["SMMU_CORS_ORIGINS"] = cors_origins
    result = apply(endpoint_url, region, manifest, dependencies=dependencies)
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


ApiOption = Annotated[str, typer.Option(envvar="SMMU_API_URL", help="The API's address")]
ApiKeyOption = Annotated[
    str | None, typer.Option(envvar="SMMU_API_KEY", help="Defaults to the key `smmu dev` wrote in .smmu/api-key")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout instead of a summary")]
#: Exit codes: 0 completed (or uploaded, without --wait); 1 a job FAILED (or was CANCELLED) or an upload was refused;
#: 3 a wait timed out; 130 interrupted (Ctrl-C; run the same command again to resume).
EXIT_FAILED, EXIT_TIMEOUT, EXIT_INTERRUPTED = 1, 3, 130


def _fail(message: str, code: int = EXIT_FAILED) -> "typer.Exit":
    err_console.print(f"[red]{message}[/]", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def upload(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    content_type: Annotated[str | None, typer.Option(help="Defaults to a guess from each file's name")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the jobs to finish; show their steps and a summary")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the jobs")] = 300,
    as_json: JsonOption = False,
    parallel: Annotated[int, typer.Option(min=1, max=64, help="Parts in flight at once (all files)")] = 8,
    files_at_once: Annotated[int, typer.Option(min=1, max=16, help="Files uploaded at once")] = 3,
    multipart: Annotated[
        bool | None, typer.Option(help="Force (or refuse) parts; default: above the API's multipart threshold")
    ] = None,
    limit_rate: Annotated[int | None, typer.Option(min=1, help="At most this many bytes per second")] = None,
    state_file: Annotated[
        Path | None, typer.Option(envvar="SMMU_UPLOAD_STATE", help="Resume state (default ~/.local/state/smmu)")
    ] = None,
    thumbnail_width: Annotated[
        list[int] | None, typer.Option(help="Images: a thumbnail width (repeat for several); default: the API's")
    ] = None,
    thumbnail_format: Annotated[
        list[str] | None, typer.Option(help="Images: a thumbnail format, jpeg, webp or avif (repeat for several)")
    ] = None,
    ladder: Annotated[
        list[int] | None, typer.Option(help="Video: a ladder rung, e.g. 720 (repeat for several); default: the API's")
    ] = None,
    hls: Annotated[bool | None, typer.Option(help="Video: make HLS (default: yes)")] = None,
    transcribe: Annotated[bool | None, typer.Option(help="Audio and video: transcribe (default: yes)")] = None,
    language: Annotated[str | None, typer.Option(help="The spoken language (ISO 639-1) or auto")] = None,
) -> None:
    """Upload files the way any client does: presigned POST for small files, S3 multipart (parallel parts,
    SHA-256 per part, resumable: run the same command again) for large ones. Progress per file and overall.
    The processing options apply to every file of the command (see /v1/limits for their bounds)."""
    from concurrent.futures import ThreadPoolExecutor

    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from smmu_stack.uploader import Api, Interrupted, RateLimit, ResumeState, Uploader, UploadError, default_state_file

    client = Api(api, _api_key(api_key))
    chosen = {
        "thumbnail_widths": thumbnail_width or None,
        "thumbnail_formats": thumbnail_format or None,
        "ladder": ladder or None,
        "hls": hls,
        "transcribe": transcribe,
        "language": language,
    }
    uploader = Uploader(
        client,
        ResumeState(state_file or default_state_file()),
        parallel=parallel,
        rate=RateLimit(limit_rate),
        options={name: value for name, value in chosen.items() if value is not None} or None,
    )
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
    )
    overall = progress.add_task("total", total=sum(f.stat().st_size for f in files))

    def one(file: Path) -> "Any":
        task = progress.add_task(file.name, total=file.stat().st_size)

        def advance(n: int) -> None:
            progress.advance(task, n)
            progress.advance(overall, n)

        declared = content_type or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return uploader.upload(file, declared, on_start=lambda total, done: None, on_bytes=advance, multipart=multipart)

    transfers = []
    try:
        with progress, ThreadPoolExecutor(files_at_once) as pool:
            futures = [pool.submit(one, f) for f in files]
            try:
                for future in futures:
                    transfers.append(future.result())
            except KeyboardInterrupt:
                uploader.stop.set()
                raise Interrupted() from None
    except Interrupted:
        uploader.close()
        raise _fail(
            "interrupted: the parts sent so far stay in S3; run the same command again to resume", EXIT_INTERRUPTED
        ) from None
    except UploadError as exc:
        uploader.close()
        raise _fail(f"upload refused: {exc}") from None
    uploader.close()
    if not as_json:
        for t in transfers:
            how = f"{t.part_count} parts, {t.resumed_parts} already in S3" if t.multipart else "one POST"
            console.print(
                f"job [bold]{t.job_id}[/] uploaded: {t.file} ({human_bytes(t.size_bytes)}, {how}, {t.seconds:.1f}s)"
            )
    if not wait:
        if as_json:
            print(json.dumps([t.as_dict() for t in transfers] if len(files) > 1 else transfers[0].as_dict(), indent=2))
        client.close()
        return
    jobs = _wait_jobs(uploader, [t.job_id for t in transfers], timeout, live=not as_json)
    client.close()
    if as_json:
        documents = [
            {**(job or {"job_id": t.job_id, "status": "TIMEOUT"}), "upload": t.as_dict()}
            for t, job in zip(transfers, jobs, strict=True)
        ]
        print(json.dumps(documents if len(files) > 1 else documents[0], indent=2))
    else:
        for job in jobs:
            if job is not None:
                console.print(job_summary(job))
    _exit_for(transfers, jobs, timeout)


def _exit_for(transfers: "list[Any]", jobs: "list[dict[str, Any] | None]", timeout: float) -> None:
    timed_out = [t.job_id for t, job in zip(transfers, jobs, strict=True) if job is None]
    failed = [job for job in jobs if job is not None and job["status"] in ("FAILED", "CANCELLED")]
    for job in failed:
        error = job.get("error") or {}
        err_console.print(
            f"job {job['job_id']} FAILED at {error.get('step')}: {error.get('code')}: {error.get('message')}"
            if job["status"] == "FAILED"
            else f"job {job['job_id']} was CANCELLED",
            highlight=False,
            soft_wrap=True,
        )
    for job_id in timed_out:
        err_console.print(f"job {job_id} did not finish within {timeout:g}s", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(EXIT_FAILED)
    if timed_out:
        raise typer.Exit(EXIT_TIMEOUT)


def _wait_jobs(uploader: "Any", job_ids: list[str], timeout: float, live: bool) -> "list[dict[str, Any] | None]":
    """Each job once it has ended (None if not within ``timeout``), showing each one's current step meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    from rich.live import Live

    states: dict[str, dict[str, Any]] = {}

    def render() -> Table:
        table = Table.grid(padding=(0, 2))
        for job_id in job_ids:
            job = states.get(job_id)
            if job is None:
                table.add_row(job_id[:8], "…")
                continue
            last = job["timeline"][-1] if job.get("timeline") else {}
            table.add_row(job_id[:8], _styled(job["status"]), str(last.get("step", "")), str(last.get("outcome", "")))
        return table

    with (
        Live(render(), console=err_console, refresh_per_second=8, transient=True, auto_refresh=live) as view,
        ThreadPoolExecutor(max(1, len(job_ids))) as pool,
    ):

        def update(job: dict[str, Any]) -> None:
            states[job["job_id"]] = job
            if live:
                view.update(render())

        futures = [pool.submit(uploader.wait, job_id, timeout, update) for job_id in job_ids]
        return [f.result() for f in futures]


def _styled(status: str) -> str:
    return {"COMPLETED": "[green]COMPLETED[/]", "FAILED": "[red]FAILED[/]", "CANCELLED": "[magenta]CANCELLED[/]"}.get(
        status, f"[yellow]{status}[/]"
    )


def job_summary(job: "dict[str, Any]") -> "Any":
    """A compact human summary of a job: status, steps with durations, outputs with sizes and links, the error."""
    from rich.console import Group
    from rich.text import Text

    header = Text.from_markup(
        f"{_styled(job['status'])}  [bold]{job.get('filename', '')}[/]  "
        f"({human_bytes(job.get('size_bytes', 0))}, {job.get('media_type') or job.get('content_type', '')})  "
        f"job {job['job_id']}"
    )
    steps = Table("step", "outcome", "took", box=None, pad_edge=False)
    for entry in job.get("timeline", []):
        if entry.get("outcome") == "info" and entry.get("step") not in ("UploadCompleted",):
            continue
        took = f"{entry['duration_ms'] / 1000:.2f}s" if entry.get("duration_ms") is not None else ""
        outcome = "[green]ok[/]" if entry["outcome"] == "succeeded" else f"[red]{entry['outcome']}[/]"
        steps.add_row(entry["step"], outcome if entry["outcome"] != "info" else "", took)
    parts: list[Any] = [header, steps]
    if job.get("outputs"):
        # Names link to the outputs (terminal hyperlinks: presigned URLs are too long to print in a table).
        outputs = Table("output", "kind", "size", box=None, pad_edge=False)
        for output in job["outputs"]:
            name = output["key"].split("/", 2)[-1]
            link = f"[link={output['url']}]{name}[/link]" if output.get("url") else name
            outputs.add_row(link, output["kind"], human_bytes(output["size_bytes"]))
        parts.append(outputs)
    if job.get("error"):
        error = job["error"]
        parts.append(Text.from_markup(f"[red]error[/] at {error['step']}: {error['code']}: {error['message']}"))
    return Group(*parts)


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="Only jobs of this status (e.g. FAILED)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Your tenant's jobs, newest first."""
    from smmu_stack.uploader import Api, UploadError

    client = Api(api, _api_key(api_key))
    params: dict[str, Any] = {"limit": limit, **({"status": status.upper()} if status else {})}
    try:
        page = client.ok("GET", "/v1/jobs", params=params)
    except UploadError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        print(json.dumps(page["items"], indent=2))
        return
    table = Table("job", "status", "file", "media", "created")
    for item in page["items"]:
        table.add_row(
            item["job_id"], _styled(item["status"]), item["filename"], item.get("media_type") or "", item["created_at"]
        )
    console.print(table)


@jobs_app.command("show")
def jobs_show(
    job_id: str,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """One job: status, steps with durations, outputs with sizes and links, the error of a FAILED job."""
    from smmu_stack.uploader import Api, UploadError

    try:
        job = Api(api, _api_key(api_key)).job(job_id)
    except UploadError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        print(json.dumps(job, indent=2))
    else:
        console.print(job_summary(job))


def _job_action(method: str, path: str, expected: int, api: str, api_key: str | None, as_json: bool) -> "Any":
    from smmu_stack.uploader import Api, UploadError

    client = Api(api, _api_key(api_key))
    try:
        answer = client.ok(method, path, expected)
    except UploadError as exc:
        raise _fail(str(exc)) from None
    finally:
        client.close()
    if as_json:
        print(json.dumps(answer, indent=2))
    return answer


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: str,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop a job that is waiting for its upload, queued or running; it ends CANCELLED and its outputs are removed."""
    answer = _job_action("POST", f"/v1/jobs/{job_id}/cancel", 200, api, api_key, as_json)
    if not as_json:
        stopped = "its workflow was stopped" if answer["execution_stopped"] else "no workflow was running"
        console.print(f"job {job_id} {_styled('CANCELLED')}: {stopped}, {answer['outputs_removed']} outputs removed")


@jobs_app.command("retry")
def jobs_retry(
    job_id: str,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Process a FAILED or CANCELLED job's upload again, as a new attempt."""
    answer = _job_action("POST", f"/v1/jobs/{job_id}/retry", 202, api, api_key, as_json)
    if not as_json:
        console.print(f"job {job_id} {_styled(answer['status'])} again: attempt {answer['attempt']}")


@jobs_app.command("delete")
def jobs_delete(
    job_id: str,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Erase a job: its upload, every output and its records (a running job is cancelled first)."""
    answer = _job_action("DELETE", f"/v1/jobs/{job_id}", 200, api, api_key, as_json)
    if not as_json:
        console.print(
            f"job {job_id} deleted{' (cancelled first)' if answer['cancelled'] else ''}: "
            f"{len(answer['raw_objects'])} uploaded files, {answer['outputs_removed']} outputs, "
            f"records {', '.join(answer['records']) or 'none'}, "
            f"{answer.get('webhook_deliveries_removed', 0)} webhook deliveries"
        )


@jobs_app.command("download")
def jobs_download(
    job_id: str,
    directory: Annotated[Path, typer.Argument(file_okay=False, help="Where the outputs go")] = Path("."),
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
) -> None:
    """Download every output of a job into DIRECTORY/<job id>/, keeping their relative paths."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from smmu_stack.uploader import Api, UploadError, download

    try:
        job = Api(api, _api_key(api_key)).job(job_id)
        if not job["outputs"]:
            raise UploadError(f"job {job_id} has no outputs (it is {job['status']})")
        progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=err_console,
            disable=not err_console.is_terminal,
        )
        root = (directory / job_id).resolve()
        total = 0
        with progress:
            overall = progress.add_task("total", total=sum(o["size_bytes"] for o in job["outputs"]))
            for output in job["outputs"]:
                relative = output["key"].split("/", 2)[-1]
                target = (root / relative).resolve()
                if not target.is_relative_to(root):  # a key is never trusted to name a path outside the folder
                    raise UploadError(f"output key {output['key']!r} leaves the download folder")
                total += download(output["url"], target, lambda n: progress.advance(overall, n))
    except UploadError as exc:
        raise _fail(str(exc)) from None
    console.print(f"{len(job['outputs'])} outputs ({human_bytes(total)}) in {root}")


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


dlq_app = typer.Typer(help="Dead-letter queues: what is in them, and sending it back.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
Endpoint = Annotated[str | None, typer.Option(envvar="AWS_ENDPOINT_URL", help="Emulator endpoint (unset: AWS)")]
Region = Annotated[str, typer.Option(envvar="AWS_DEFAULT_REGION")]


def _sqs(endpoint_url: str | None, region: str) -> object:
    import boto3

    return boto3.session.Session(region_name=region).client("sqs", endpoint_url=endpoint_url)


def _dlq(sqs: object, name: str) -> "DeadLetterQueue":
    from smmu_stack.dlq import find

    try:
        return find(sqs, name)
    except LookupError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc


@dlq_app.command("list")
def dlq_list(endpoint_url: Endpoint = None, region: Region = "us-east-1") -> None:
    """Every dead-letter queue, the queues that feed it and how many messages wait in it."""
    from smmu_stack.dlq import dead_letter_queues

    table = Table("dead-letter queue", "fed by", "messages", "in flight")
    for queue in dead_letter_queues(_sqs(endpoint_url, region)):
        table.add_row(queue.name, ", ".join(n for n, _ in queue.sources), str(queue.messages), str(queue.in_flight))
    console.print(table)


@dlq_app.command("show")
def dlq_show(
    queue: Annotated[str, typer.Argument(help="Name, URL or ARN of the dead-letter queue")],
    limit: Annotated[int, typer.Option(help="At most this many messages")] = 10,
    endpoint_url: Endpoint = None,
    region: Region = "us-east-1",
) -> None:
    """The messages in a dead-letter queue (left in place), with their job and how often they were tried."""
    from smmu_stack.dlq import peek

    sqs = _sqs(endpoint_url, region)
    console.print_json(json.dumps(peek(sqs, _dlq(sqs, queue), limit)))


@dlq_app.command("redrive")
def dlq_redrive(
    queue: Annotated[str, typer.Argument(help="Name, URL or ARN of the dead-letter queue")],
    to: Annotated[str | None, typer.Option(help="Destination queue (default: the queue that feeds it)")] = None,
    limit: Annotated[int | None, typer.Option(help="Move at most this many (moves them one by one)")] = None,
    endpoint_url: Endpoint = None,
    region: Region = "us-east-1",
) -> None:
    """Send a dead-letter queue's messages back to the queue they came from."""
    from smmu_stack.dlq import redrive

    sqs = _sqs(endpoint_url, region)
    try:
        result = redrive(sqs, _dlq(sqs, queue), to, limit)
    except LookupError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print_json(json.dumps(result))


webhooks_app = typer.Typer(help="Webhooks: endpoints your tenant's job events are sent to.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")


def _webhooks_call(api: str, api_key: str | None, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
    from smmu_stack.uploader import Api, UploadError

    client = Api(api, _api_key(api_key))
    try:
        return client.ok(method, path, expected, **kwargs)
    except UploadError as exc:
        raise _fail(str(exc)) from None


@webhooks_app.command("create")
def webhooks_create(
    url: str,
    event: Annotated[
        list[str] | None,
        typer.Option(
            help="An event type to receive (repeat): job.completed, job.failed, job.cancelled (the default: all "
            "three), job.progress"
        ),
    ] = None,
    description: Annotated[str, typer.Option()] = "",
    secret: Annotated[str | None, typer.Option(help="Your own whsec_ secret; default: generated")] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register an endpoint; prints its signing secret, which is not shown again."""
    body: dict[str, Any] = {"url": url, "description": description}
    if event:
        body["events"] = event
    if secret:
        body["secret"] = secret
    created = _webhooks_call(api, api_key, "POST", "/v1/webhooks", 201, json=body)
    if as_json:
        print(json.dumps(created, indent=2))
        return
    console.print(f"webhook {created['webhook_id']} -> {created['url']} ({', '.join(created['events'])})")
    console.print(f"signing secret (store it now; it is not shown again): {created['secret']}")


@webhooks_app.command("list")
def webhooks_list(
    api: ApiOption = "http://127.0.0.1:8000", api_key: ApiKeyOption = None, as_json: JsonOption = False
) -> None:
    """Your tenant's endpoints."""
    items = _webhooks_call(api, api_key, "GET", "/v1/webhooks")["items"]
    if as_json:
        print(json.dumps(items, indent=2))
        return
    table = Table("webhook", "url", "events", "enabled", "created")
    for item in items:
        table.add_row(
            item["webhook_id"], item["url"], ", ".join(item["events"]), str(item["enabled"]), item["created_at"]
        )
    console.print(table)


@webhooks_app.command("update")
def webhooks_update(
    webhook_id: str,
    url: Annotated[str | None, typer.Option()] = None,
    event: Annotated[list[str] | None, typer.Option(help="Replace the event types (repeat)")] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
) -> None:
    """Change an endpoint's URL or event types, or pause (--disable) and resume (--enable) its deliveries."""
    body: dict[str, Any] = {"url": url, "events": event or None, "enabled": enabled}
    updated = _webhooks_call(
        api, api_key, "PATCH", f"/v1/webhooks/{webhook_id}", json={k: v for k, v in body.items() if v is not None}
    )
    console.print(
        f"webhook {updated['webhook_id']} -> {updated['url']} ({', '.join(updated['events'])}), "
        f"{'enabled' if updated['enabled'] else 'disabled'}"
    )


@webhooks_app.command("delete")
def webhooks_delete(webhook_id: str, api: ApiOption = "http://127.0.0.1:8000", api_key: ApiKeyOption = None) -> None:
    """Remove an endpoint."""
    _webhooks_call(api, api_key, "DELETE", f"/v1/webhooks/{webhook_id}", 204)
    console.print(f"webhook {webhook_id} deleted")


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    webhook_id: str,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    api: ApiOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """An endpoint's deliveries, newest first, with each attempt's answer."""
    page = _webhooks_call(api, api_key, "GET", f"/v1/webhooks/{webhook_id}/deliveries", params={"limit": limit})
    if as_json:
        print(json.dumps(page["items"], indent=2))
        return
    table = Table("delivery", "event", "job", "state", "attempts", "last answer")
    for item in page["items"]:
        last = item["attempt_log"][-1] if item["attempt_log"] else {}
        answer = str(last.get("status_code") or last.get("error") or "")
        table.add_row(
            item["delivery_id"], item["event_type"], item["job_id"], item["state"], str(item["attempts"]), answer
        )
    console.print(table)


if __name__ == "__main__":
    app()
