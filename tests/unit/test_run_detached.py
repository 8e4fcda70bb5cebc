"""scripts/run-detached.sh: how the build scripts start daemons (dockerd, the local Lambda image registry).

CI once failed here with a bare exit 127: the daemon launcher closed inherited descriptors with POSIX sh's
`exec 12>&-`, which sh parses as running a command named "12". It only shows when the caller holds a descriptor
above 9 — as CI's harness does — so the tests hold one.
"""

import os
import subprocess
import time
from pathlib import Path

import pytest

from smmu_stack.manifest import REPO_ROOT

pytestmark = pytest.mark.unit

SCRIPT = REPO_ROOT / "scripts" / "run-detached.sh"


def open_descriptors(pid: int) -> set[int]:
    return {int(name) for name in os.listdir(f"/proc/{pid}/fd")}


def test_starts_the_daemon_without_the_callers_descriptors(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    held = os.open(tmp_path / "lock", os.O_CREAT | os.O_WRONLY)
    high = os.dup2(held, 23)  # a descriptor number sh cannot parse
    try:
        started = subprocess.run(
            [str(SCRIPT), str(log), "sh", "-c", "echo daemon up; exec sleep 30"],
            pass_fds=(held, high),
            capture_output=True,
            text=True,
            timeout=10,
        )
    finally:
        os.close(held)
        os.close(high)
    assert started.returncode == 0, started.stderr
    pid = int(started.stdout.strip())
    try:
        deadline = time.monotonic() + 5
        while "daemon up" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "the daemon never wrote to its log"
            time.sleep(0.05)
        assert open_descriptors(pid) == {0, 1, 2}
        assert os.readlink(f"/proc/{pid}/fd/1") == str(log)
        # It outlives its caller in a session of its own: the caller's process group can be killed without it.
        assert os.getsid(pid) == pid
    finally:
        os.kill(pid, 15)


def test_usage_error_is_explained() -> None:
    result = subprocess.run([str(SCRIPT), "only-a-log"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert "usage:" in result.stderr
