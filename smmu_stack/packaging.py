"""Build the Lambda code package: one deterministic zip with the domain core and every handler.

Deterministic (fixed timestamps, sorted entries) so re-provisioning an unchanged tree changes nothing. Third-party
dependencies are not inside: on AWS they come from a layer (``build_dependency_layer``); the embedded cloud's
runtime provides them from the project's environment.
"""

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from smmu_stack.manifest import REPO_ROOT, Manifest

BUILD_DIR = REPO_ROOT / "build" / "lambda"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
LAYER_REQUIREMENTS = ("aws-lambda-powertools", "pydantic", "pydantic-settings", "filetype", "pillow")
#: The project's one pinned dependency set: the layer gets the locked versions of these and of what they need.
LOCK_FILE = REPO_ROOT / "requirements.lock"


def package_files(manifest: Manifest) -> list[tuple[Path, str]]:
    files = []
    for package in manifest.lambda_package["source_packages"]:
        for path in sorted((manifest.root / package).rglob("*.py")):
            files.append((path, path.relative_to(manifest.root).as_posix()))
    return files


def zip_bytes(files: list[tuple[Path, str]], overrides: dict[str, str] | None = None) -> bytes:
    """A zip of ``files`` (path, archive name); ``overrides`` replaces or adds archive entries by name."""
    import io

    contents = {name: path.read_bytes() for path, name in files}
    contents.update({name: text.encode() for name, text in (overrides or {}).items()})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(contents):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, contents[name])
    return buffer.getvalue()


def build_code_package(manifest: Manifest | None = None, out_dir: Path = BUILD_DIR) -> Path:
    manifest = manifest or Manifest.load()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "smmu-functions.zip"
    data = zip_bytes(package_files(manifest))
    if not target.exists() or target.read_bytes() != data:
        target.write_bytes(data)
    return target


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_dependency_layer(out_dir: Path = BUILD_DIR) -> Path:
    """Third-party packages for the Lambda runtime (manylinux wheels for python3.11 x86_64) as a layer zip."""
    staging = out_dir / "layer" / "python"
    staging.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--target",
            str(staging),
            "--platform",
            "manylinux2014_x86_64",
            "--implementation",
            "cp",
            "--python-version",
            "3.11",
            "--only-binary=:all:",
            "--upgrade",
            "--constraint",
            str(LOCK_FILE),
            *LAYER_REQUIREMENTS,
        ],
        check=True,
    )
    files = [(p, "python/" + p.relative_to(staging).as_posix()) for p in sorted(staging.rglob("*")) if p.is_file()]
    target = out_dir / "smmu-dependencies-layer.zip"
    target.write_bytes(zip_bytes(files))
    return target
