"""Progress of a running media tool, for the job's progress events: FFmpeg's ``-progress`` report, read while
it runs, mapped onto a share of the task (a task with several passes gives each a span of 0-100 %)."""

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

Report = Callable[[float], None]
_OUT_TIME_US = re.compile(rb"^out_time_us=(\d+)\s*$", re.MULTILINE)
#: How much of the report's end to read: a few of FFmpeg's blocks (each about 250 bytes).
_TAIL_BYTES = 4096


def scaled(report: Report, start: float, end: float) -> Report:
    """``report`` for one pass that covers ``start``..``end`` % of the task."""
    return lambda fraction_percent: report(start + (end - start) * min(max(fraction_percent, 0.0), 100.0) / 100)


def out_seconds(report: Path) -> float | None:
    """How far into the media FFmpeg's ``-progress`` report says it is (its last ``out_time_us``)."""
    try:
        with report.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - _TAIL_BYTES))
            tail = handle.read()
    except OSError:
        return None
    found = _OUT_TIME_US.findall(tail)
    return int(found[-1]) / 1_000_000 if found else None


@contextmanager
def ffmpeg_progress(
    args: list[str], report_path: Path, duration_seconds: float | None, report: Report | None, poll: float = 0.5
) -> Iterator[list[str]]:
    """``args`` with ``-progress <report_path>`` added, and, while the block runs, ``report`` called with the
    percent of ``duration_seconds`` FFmpeg has written. Without a report or a known duration: ``args`` as is."""
    if report is None or not duration_seconds or duration_seconds <= 0:
        yield args
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(poll):
            seconds = out_seconds(report_path)
            if seconds is not None:
                report(100.0 * seconds / duration_seconds)

    watcher = threading.Thread(target=watch, name="ffmpeg-progress", daemon=True)
    watcher.start()
    try:
        yield [args[0], "-progress", str(report_path), *args[1:]]
    finally:
        done.set()
        watcher.join()
