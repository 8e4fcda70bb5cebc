"""requirements.lock is the one pinned dependency set, in step with pyproject.toml, and every install uses it."""

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from smmu_stack.manifest import REPO_ROOT
from smmu_stack.packaging import LOCK_FILE

pytestmark = pytest.mark.unit

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _locked() -> dict[str, list[Requirement]]:
    pins: dict[str, list[Requirement]] = {}
    for line in LOCK_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line)
            pins.setdefault(canonicalize_name(requirement.name), []).append(requirement)
    return pins


def _declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    lines += [r for extra in project["optional-dependencies"].values() for r in extra]
    lines += [r for group in PYPROJECT["dependency-groups"].values() for r in group]
    return [Requirement(line) for line in lines if canonicalize_name(Requirement(line).name) != "smmu"]


def test_every_locked_requirement_is_pinned_to_one_version():
    for name, pins in _locked().items():
        for pin in pins:
            specifiers = list(pin.specifier)
            assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{name} is not pinned: {pin}"


def test_every_declared_dependency_is_locked_at_a_version_it_allows():
    """Fails when pyproject.toml changes a dependency and the lock was not regenerated (`make lock`)."""
    locked = _locked()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is declared but not locked: run make lock"
        versions = {next(iter(pin.specifier)).version for pin in locked[name]}
        assert any(requirement.specifier.contains(v, prereleases=True) for v in versions), (
            f"{requirement} is declared, but the lock pins {sorted(versions)}: run make lock"
        )


@pytest.mark.parametrize(
    "path",
    ["scripts/bootstrap.sh", "docker/pip-install.sh", "smmu_stack/packaging.py"],
)
def test_every_install_applies_the_lock(path):
    text = (REPO_ROOT / path).read_text()
    assert re.search(r"--constraint\b", text), f"{path} installs without the lock's pins"


def test_every_image_build_gets_the_lock():
    for dockerfile in sorted((REPO_ROOT / "docker").glob("*.Dockerfile")):
        text = dockerfile.read_text()
        if "pip-install.sh" in text:
            assert "requirements.lock" in text, f"{dockerfile.name} does not copy requirements.lock for pip-install.sh"
    assert "!requirements.lock" in (REPO_ROOT / ".dockerignore").read_text()
