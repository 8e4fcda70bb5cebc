"""scripts/debian-mirror.sh: the Debian mirror the base image is bootstrapped from.

A failure here once ended CI's image build silently (Debian 12 has no /etc/apt/sources.list, and grep's exit 2
ended the script under `set -e`), so the lookup is tested on samples of both apt formats and on this machine's
real apt configuration.
"""

import os
import subprocess
from pathlib import Path

import pytest

from smmu_stack.manifest import REPO_ROOT

pytestmark = pytest.mark.unit

SCRIPT = REPO_ROOT / "scripts" / "debian-mirror.sh"

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.example.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.example.org/debian-security
Suites: bookworm-security
Components: main
"""

ONE_LINE = """\
# deb http://commented.example.org/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] https://mirror.example.net/debian/ bookworm main
deb http://security.debian.org/debian-security bookworm-security main
"""


def mirror(sources: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SMMU_DEBIAN_MIRROR"}
    return subprocess.run(
        [str(SCRIPT)],
        env={**environment, "SMMU_APT_SOURCES": sources, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_deb822_sources_in_a_directory_without_sources_list(tmp_path: Path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    # The Debian 12 layout: sources.list itself does not exist.
    result = mirror(f"{tmp_path / 'sources.list'} {tmp_path / 'sources.list.d'}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://deb.example.org/debian"


def test_one_line_format_with_options_and_comments(tmp_path: Path):
    (tmp_path / "sources.list").write_text(ONE_LINE)
    result = mirror(str(tmp_path / "sources.list"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://mirror.example.net/debian"


def test_no_mirror_is_a_clear_error_naming_the_override(tmp_path: Path):
    (tmp_path / "only-security.list").write_text("deb http://security.debian.org/debian-security bookworm main\n")
    result = mirror(f"{tmp_path / 'only-security.list'} {tmp_path / 'missing'}")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no Debian mirror found" in result.stderr
    assert "SMMU_DEBIAN_MIRROR" in result.stderr


def test_the_override_wins(tmp_path: Path):
    result = mirror(str(tmp_path / "missing"), SMMU_DEBIAN_MIRROR="http://override.example/debian")
    assert result.returncode == 0
    assert result.stdout.strip() == "http://override.example/debian"


@pytest.mark.skipif(
    not Path("/etc/debian_version").exists() or "ID=debian" not in Path("/etc/os-release").read_text(),
    reason="this machine is not Debian: its apt sources need not name a Debian mirror",
)
def test_this_machines_real_apt_configuration():
    # The guard against the CI failure: the same lookup the base-image build does, on the real files.
    result = mirror("/etc/apt/sources.list /etc/apt/sources.list.d")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(("http://", "https://"))
    assert result.stdout.strip().endswith("/debian")
