"""Build the Lambda code package: one deterministic zip with the domain core and every handler, and, for every
target that runs Lambda's own runtime (AWS, LocalStack), the functions' third-party packages inside it.

Deterministic (fixed timestamps, sorted entries) so re-provisioning an unchanged tree changes nothing.

Third-party packages travel inside the zip, not in a layer: LocalStack's free edition stores layers but never
mounts them (a function relying on one fails with ``Runtime.ImportModuleError``), so a layer would make AWS and
LocalStack run different code. ``build_dependencies`` installs the manifest's ``lambda_package.dependencies``
as wheels for Lambda's platform (manylinux2014, the runtime's Python), pinned to the versions of the project's
one pinned set, ``requirements.lock`` (the versions the tests ran). Lambda's Python runtime brings boto3 itself.
The embedded cloud runs the code-only zip: its runtime is the project's own environment, which has them.
"""

import hashlib
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from smmu_stack.manifest import REPO_ROOT, Manifest

BUILD_DIR = REPO_ROOT / "build" / "lambda"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
_STAMP = ".smmu-requirements"
LOCK_FILE = REPO_ROOT / "requirements.lock"


def package_files(manifest: Manifest) -> list[tuple[Path, str]]:
    files = []
    for package in manifest.lambda_package["source_packages"]:
        for path in sorted((manifest.root / package).rglob("*.py")):
            files.append((path, path.relative_to(manifest.root).as_posix()))
    return files


def dependency_files(directory: Path) -> list[tuple[Path, str]]:
    """The installed packages under ``directory`` (a ``pip install --target``), at the root of the zip."""
    return [
        (path, path.relative_to(directory).as_posix())
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != _STAMP and "__pycache__" not in path.parts
    ]


def zip_bytes(files: list[tuple[Path, str]], overrides: dict[str, str] | None = None) -> bytes:
    """A zip of ``files`` (path, archive name); ``overrides`` replaces or adds archive entries by name."""
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


def build_code_package(
    manifest: Manifest | None = None, out_dir: Path = BUILD_DIR, dependencies: Path | None = None
) -> Path:
    """The functions' zip: the code, plus the packages installed under ``dependencies`` when given."""
    manifest = manifest or Manifest.load()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "smmu-functions.zip"
    files = package_files(manifest) + (dependency_files(dependencies) if dependencies else [])
    data = zip_bytes(files)
    if not target.exists() or target.read_bytes() != data:
        target.write_bytes(data)
    return target


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _locked(lock: Path = LOCK_FILE) -> list[tuple[str, str]]:
    """(name, requirement line) of every pin in the lock; a name may appear twice, under different markers."""
    pins = []
    for line in lock.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            pins.append((_name(requirement), requirement))
    return pins


def dependency_requirements(manifest: Manifest) -> list[str]:
    """The functions' third-party requirements, each pinned to its version in the lock where it has one.

    An entry with its own version range (``pillow<13``: Pillow 13 has no wheel for glibc 2.17, and Lambda's
    python3.11 runtime runs on Amazon Linux 2, glibc 2.26) is passed on as written: pip picks the newest
    version in range that has a wheel for Lambda's platform.
    """
    locked = dict(_locked())  # a bare name becomes its lock line: ``pydantic==2.14.4``
    return [
        locked.get(requirement, requirement) if requirement == _name(requirement) else requirement
        for requirement in manifest.lambda_package["dependencies"]
    ]


def _constraints(requirements: list[str]) -> str:
    """Every other pin of the lock: the dependencies' own dependencies resolve to the locked versions (a
    requirement with its own range is left to it)."""
    ranged = {_name(r) for r in requirements if "==" not in r}
    return "\n".join(line for name, line in _locked() if name not in ranged) + "\n"


def build_dependencies(manifest: Manifest | None = None, out_dir: Path = BUILD_DIR) -> Path:
    """Install the functions' third-party packages for Lambda's platform into ``out_dir/dependencies``.

    Needs the package index; a second call with the same requirements finds them in place and does nothing.
    """
    manifest = manifest or Manifest.load()
    runtime = manifest.lambda_package["runtime"]
    architecture = manifest.lambda_package["architecture"]
    requirements = dependency_requirements(manifest)
    target = out_dir / "dependencies"
    stamp = target / _STAMP
    key = "\n".join([runtime, architecture, *requirements]) + "\n"
    if stamp.exists() and stamp.read_text() == key:
        return target
    if target.exists():
        for path in sorted(target.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
    target.mkdir(parents=True, exist_ok=True)
    constraints = out_dir / "dependency-constraints.txt"
    constraints.write_text(_constraints(requirements))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(target),
            "--platform",
            _PLATFORMS[architecture],
            "--implementation",
            "cp",
            "--python-version",
            runtime.removeprefix("python"),
            "--only-binary=:all:",
            "--constraint",
            str(constraints),
            *requirements,
        ],
        check=True,
    )
    constraints.unlink()
    stamp.write_text(key)
    return target


if __name__ == "__main__":
    # `python -m smmu_stack.packaging dependencies [OUT_DIR]`: for image builds, before the rest of the code is in.
    if sys.argv[1:2] != ["dependencies"]:
        sys.exit("usage: python -m smmu_stack.packaging dependencies [OUT_DIR]")
    print(build_dependencies(out_dir=Path(sys.argv[2]) if len(sys.argv) > 2 else BUILD_DIR))
