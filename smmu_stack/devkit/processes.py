"""Finding and inspecting this machine's processes through /proc (Linux), for the chaos tests and the
reliability benchmark: they kill function environments and workers, then watch what is left."""

import os
from pathlib import Path


def processes(marker: bytes, environ: bytes | None = None) -> list[int]:
    """Pids whose command line contains `marker` (and, if given, whose environment has the entry `environ`)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "cmdline").read_bytes() and (
                environ is None or environ in (proc / "environ").read_bytes().split(b"\0")
            ):
                found.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def status_field(pid: int, field: str) -> str:
    """A field of /proc/<pid>/status (e.g. "VmHWM", "State"); "" when the process has no such field."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def _stat_fields(pid: int) -> list[str]:
    # The command name, in parentheses, may itself contain spaces and parentheses: split after the last one.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def parent(pid: int) -> int:
    """The parent's pid; 0 once the process is gone."""
    try:
        return int(_stat_fields(pid)[1])
    except OSError:
        return 0


def cpu_ticks(pid: int) -> int:
    """User + system CPU time in clock ticks; -1 once the process is gone."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return -1
    return int(fields[11]) + int(fields[12])


def cwd(pid: int) -> Path:
    """The working directory; / when it cannot be read."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return Path("/")
