"""Progress a user can see during a long run: short lines from long jobs, an estimate of the whole
run before it starts, and a closing line saying where the results are.

Snakemake's "x of y steps done" moves only when a job ends, and a job's own output goes to its
log, so a job reading 100,000 PNG files in every read cell (five minutes) looked hung. A job
running under `job_log` reports here as it works (`step`, `repeated`, `advanced`), always
outside its timed regions; once it has run QUIET_SECONDS it prints one line at most every
EVERY_SECONDS to the stream it was started with: the terminal locally, the scheduler's job log on
a cluster. Short jobs print nothing extra. Library calls outside a job report nowhere.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

QUIET_SECONDS = 10.0  # a job younger than this prints nothing: short jobs stay quiet
EVERY_SECONDS = 10.0  # the most often a job prints a line
PREFIX = "imgbench:"


def duration(seconds: float) -> str:
    """Seconds as a person reads them: '45 s', '3 min 20 s', '1 h 5 min'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def counted(count: int, noun: str) -> str:
    """'1 job', '43 jobs'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def job_name(log: Path) -> str:
    """A job named by its log's path under `logs/`, which holds the rule and its wildcards:
    `results/logs/read_store/lmdb/fast/raw/32px/150.log` is `read_store lmdb/fast/raw/32px
    n=150`."""
    parts = list(log.with_suffix("").parts)
    rule, *rest = parts[parts.index("logs") + 1 :] if "logs" in parts[:-1] else parts[-1:]
    cutoff = [f"n={rest.pop()}"] if rest and rest[-1].isdigit() else []
    return " ".join([rule, *(["/".join(rest)] if rest else []), *cutoff])


@dataclass
class _Job:
    """What one running job has reported so far."""

    name: str
    console: TextIO
    clock: Callable[[], float]
    started: float
    printed: float = -math.inf
    what: str = ""
    index: int = 0
    count: int = 1
    step_started: float = 0.0
    finished_steps: list[float] = field(default_factory=list)

    def left(self, step_left: float) -> float:
        """Seconds the job has left: this step's, then the later steps' at the pace so far."""
        now = self.clock()
        steps = self.finished_steps or [now - self.step_started + step_left]
        return step_left + (self.count - self.index - 1) * sum(steps) / len(steps)

    def line(self, doing: str, step_left: float | None) -> None:
        """Print `doing` with the job's name, step and time left, if the job is old enough
        and its last line old enough."""
        now = self.clock()
        if now - self.started < QUIET_SECONDS or now - self.printed < EVERY_SECONDS:
            return
        self.printed = now
        where = self.what
        if self.count > 1:
            where = f"{where} ({self.index + 1} of {self.count})".strip()
        details = ", ".join(part for part in (where, doing) if part)
        text = f"{PREFIX} {self.name}" + (f": {details}" if details else "")
        if step_left is not None:
            text += f"; about {duration(self.left(step_left))} left"
        text += f" (running {duration(now - self.started)})"
        print(text, file=self.console, flush=True)


_job: _Job | None = None


@contextmanager
def reporting(
    name: str, console: TextIO, clock: Callable[[], float] = time.monotonic
) -> Iterator[None]:
    """Within the block, the running job `name` reports its progress to `console`."""
    global _job
    outer, _job = _job, _Job(name, console, clock, started=clock(), step_started=clock())
    try:
        yield
    finally:
        _job = outer


def step(what: str, index: int, count: int) -> None:
    """The job starts step `index` (from 0) of `count`, `what` (a read cell, a number of
    writers, a loader setting): later lines name it and count the steps left."""
    if _job is None:
        return
    now = _job.clock()
    if index > _job.index:
        _job.finished_steps.append(now - _job.step_started)
    _job.what, _job.index, _job.count, _job.step_started = what, index, count, now


def repeated(done: int, most: int, step_left: float) -> None:
    """A repeat ended: `done` of at most `most`, with about `step_left` seconds of the step to
    go."""
    if _job is not None:
        _job.line(f"repeat {done} of at most {most}", step_left)


def advanced(done: int, total: int, unit: str) -> None:
    """`done` of `total` `unit` (images rendered, resized, decoded) are done; the rest is
    expected at the step's pace so far."""
    if _job is not None and done > 0:
        spent = _job.clock() - _job.step_started
        _job.line(f"{done:,} of {total:,} {unit}", spent / done * (total - done))


# The whole run: an estimate before it starts, where to look when it ends.


@dataclass(frozen=True)
class PlannedJob:
    """A job Snakemake is about to run: its rule, its benchmark file (None if it keeps
    none), its threads, and whether it holds the timing slot (timing jobs run one at a time)."""

    rule: str
    benchmark: Path | None
    threads: int
    timing: bool


def benchmark_seconds(path: Path) -> float | None:
    """The wall seconds of the job's last run from its Snakemake benchmark file (`s` column);
    None if there is none or it cannot be read."""
    try:
        header, values, *_ = path.read_text().splitlines()
        return float(dict(zip(header.split("\t"), values.split("\t"), strict=False))["s"])
    except (OSError, ValueError, KeyError):
        return None


def run_estimate(jobs: Iterable[PlannedJob], cores: int) -> str:
    """The line printed before a run: its expected wall time from the planned jobs' last
    times in their benchmark files, or why there is no estimate.

    Timing jobs run one at a time; the others share the cores. The run takes at least the
    timing jobs one after another, and at least all jobs' core-seconds spread over the cores.
    """
    jobs = [job for job in jobs if job.benchmark is not None]
    timed = [(job, benchmark_seconds(job.benchmark)) for job in jobs]  # type: ignore[arg-type]
    known = [(job, seconds) for job, seconds in timed if seconds is not None]
    if not known:
        return (
            f"{PREFIX} no estimate of this run's time: none of its {counted(len(jobs), 'job')} "
            "has a time from an earlier run in results/benchmarks/"
        )
    serial = sum(seconds for job, seconds in known if job.timing)
    spread = sum(seconds * min(job.threads, cores) for job, seconds in known) / cores
    new = len(jobs) - len(known)
    text = (
        f"{PREFIX} this run should take about {duration(max(serial, spread))} for "
        f"{counted(len(known), 'job')}, from the last run's job times (results/benchmarks/)"
    )
    if new:
        text += f"; {counted(new, 'job')} not run before not counted"
    return text


def closing_line(
    seconds: float, started: float, results: Iterable[Path], report: Path, command: str
) -> str:
    """The last line of a run that started at `started` (a Unix time) and took `seconds`: where
    to look. The `results` that exist are named, marked if this run did not update them (a run
    of one target), and the HTML `report` if it exists, or the `command` that makes it."""

    def shown(path: Path) -> str:
        return str(path) if path.stat().st_mtime >= started else f"{path} (not updated by this run)"

    where = [f"results in {shown(path)}" for path in results if path.exists()]
    where.append(
        f"the HTML report is {shown(report)}" if report.exists() else f"{command} makes {report}"
    )
    return f"{PREFIX} the run took {duration(seconds)}; {'; '.join(where)}"
