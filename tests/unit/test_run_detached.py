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
    # The caller holds descriptor 23 (a number sh cannot parse), opened in the child: a dup2 onto 23 in this
    # process would replace whatever the test run keeps there (a server's socket) and break it for later tests.
    caller = 'exec 23>"$1"; shift; exec "$@"'
    started = subprocess.run(
        ["bash", "-c", caller, "caller", str(tmp_path / "lock"), str(SCRIPT), str(log), "sh", "-c",
         "echo daemon up; exec sleep 30"],
        capture_output=True,
        text=True,
        timeout=10,
    )  # fmt: skip
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
