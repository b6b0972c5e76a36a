"""What the terminal shows during a run (`imgbench.progress`): progress lines from long jobs only,
at most every ten seconds, outside timed regions; the run's estimate from earlier benchmark files;
the closing line. The last test runs the real pipeline with one job made long."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest

from imgbench import job_log, progress
from imgbench.measure import RepeatPolicy
from imgbench.progress import PlannedJob
from imgbench.resizing import resize_images
from imgbench.synthetic import synthetic_images

from conftest import LONG, LONG_JOB_TABLE, copy_project, run_snakemake


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0.4, "0 s"), (59, "59 s"), (60, "1 min"), (200, "3 min 20 s"), (3900, "1 h 5 min")],
)
def test_durations_read_as_a_person_says_them(seconds: float, words: str) -> None:
    assert progress.duration(seconds) == words


@pytest.mark.parametrize(
    ("log", "name"),
    [
        (
            "results/logs/read_store/lmdb/fast/raw/32px/150.log",
            "read_store lmdb/fast/raw/32px n=150",
        ),
        (
            "results/logs/single_image/files/tutorial/png/64px.log",
            "single_image files/tutorial/png/64px",
        ),
        ("results/logs/loader_limits/32px/1000.log", "loader_limits 32px n=1000"),
        ("results/logs/aggregate.log", "aggregate"),
        ("elsewhere/job.log", "job"),
    ],
)
def test_a_job_is_named_by_its_log_path(log: str, name: str) -> None:
    assert progress.job_name(Path(log)) == name


def test_a_long_job_prints_after_ten_seconds_and_then_at_most_every_ten() -> None:
    clock, console = Clock(), io.StringIO()
    with progress.reporting("read_store lmdb/fast/raw/32px n=150", console, clock):
        for second in range(1, 36):
            clock.now = second
            progress.repeated(second, 40, 1.0)
    printed = lines(console)
    assert [re.search(r"running (\d+) s", line)[1] for line in printed] == ["10", "20", "30"]
    assert printed[0] == (
        "imgbench: read_store lmdb/fast/raw/32px n=150: repeat 10 of at most 40; "
        "about 1 s left (running 10 s)"
    )


def test_a_short_job_and_code_outside_a_job_print_nothing(capsys) -> None:
    clock, console = Clock(), io.StringIO()
    with progress.reporting("build_pool 32px", console, clock):
        for second in range(10):
            clock.now = second + 0.5
            progress.repeated(second + 1, 10, 9.5 - second)
            progress.advanced(second + 1, 10, "images")
    progress.repeated(1, 2, 1.0)  # no job: a library call in a notebook, a test
    assert console.getvalue() == "" and capsys.readouterr() == ("", "")


def test_the_time_left_counts_the_later_steps_at_the_pace_so_far() -> None:
    """Five read cells: the first took 8 s; 12 s into the second, 3 s of it are left: 3 s +
    three more cells at 8 s."""
    clock, console = Clock(), io.StringIO()
    with progress.reporting("read_store files/fast/png/32px n=10000", console, clock):
        progress.step("warm cache, sequential, 1 reader", 0, 5)
        clock.now = 8.0
        progress.step("cold cache, sequential, 1 reader", 1, 5)
        clock.now = 20.0
        progress.repeated(4, 5, 3.0)
    assert lines(console) == [
        "imgbench: read_store files/fast/png/32px n=10000: cold cache, sequential, 1 reader "
        "(2 of 5), repeat 4 of at most 5; about 27 s left (running 20 s)"
    ]


def test_the_repeat_policy_reports_each_repeat_after_its_timing() -> None:
    """Repeats of 3 s with a 60 s budget: at most 20 of them; the line after the fourth says so,
    with the 16 repeats left at 3 s each."""
    clock, console = Clock(), io.StringIO()
    policy = RepeatPolicy(minimum=2, maximum=50, relative_half_width=1e-9, cell_budget_seconds=60)

    def once(repeat: int) -> float:
        clock.now += 3.0
        return 1.0 + repeat * 0.5  # spread out: the interval never gets narrow

    with progress.reporting("build_store lmdb/fast/raw/32px n=10", console, clock):
        assert policy.repeat(once, clock) == 20
    assert lines(console)[0] == (
        "imgbench: build_store lmdb/fast/raw/32px n=10: repeat 4 of at most 20; "
        "about 48 s left (running 12 s)"
    )


def test_job_log_sends_progress_to_the_console_and_output_to_the_log(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)
    log = tmp_path / "logs/read_one/lmdb/fast/raw/32px/100.log"
    log.parent.mkdir(parents=True)
    with job_log.job_log(log):
        print("every timing, in full")
        progress.repeated(3, 5, 2.0)
    console = capsys.readouterr().err
    assert console.startswith("imgbench: read_one lmdb/fast/raw/32px n=100: repeat 3 of at most 5")
    assert log.read_text() == "every timing, in full\n"


def test_rendering_and_resizing_a_pool_say_how_many_images_are_done(monkeypatch) -> None:
    """A pool of large images takes minutes to render or resize (1.9 ms an image to 256 px)."""
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.0)
    console = io.StringIO()
    with progress.reporting("build_pool 40px", console):
        images, _ = synthetic_images(600, seed=1)
        resize_images(images, 40)
    printed = lines(console)
    rendered = [line for line in printed if "images rendered at 32 px" in line]
    resized = [line for line in printed if "images resized to 40 px" in line]
    assert rendered[-1].startswith("imgbench: build_pool 40px: 600 of 600 images rendered")
    assert [line.split(": ")[2].split(" of ")[0] for line in resized] == ["1", "513"]
    assert all("left (running" in line for line in printed)


def benchmark(path: Path, seconds: float) -> Path:
    """A Snakemake benchmark file saying the job took `seconds`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{seconds}\t0:00:00\t100\t200\t50\t60\t0\t0\t90\t{seconds}\n"
    )
    return path


def test_the_estimate_runs_timing_jobs_one_at_a_time_and_the_others_side_by_side(
    tmp_path: Path,
) -> None:
    timing = [
        PlannedJob("read_store", benchmark(tmp_path / f"r{k}.tsv", 60), 2, True) for k in (1, 2)
    ]
    figures = [
        PlannedJob("figure", benchmark(tmp_path / f"f{k}.tsv", 3), 1, False) for k in range(20)
    ]
    new = PlannedJob("read_store", tmp_path / "never-ran.tsv", 2, True)
    no_file = PlannedJob("all", None, 1, False)
    estimate = progress.run_estimate([*timing, *figures, new, no_file], cores=4)
    # Timing jobs: 120 s in a row; all jobs' core-seconds: (2*60*2 + 20*3) / 4 = 75 s.
    assert estimate == (
        "imgbench: this run should take about 2 min for 22 jobs, from the last run's job times "
        "(results/benchmarks/); 1 job not run before not counted"
    )
    many_figures = [PlannedJob("figure", benchmark(tmp_path / "f0.tsv", 3), 1, False)] * 200
    assert "about 3 min 30 s for 202 jobs" in progress.run_estimate([*timing, *many_figures], 4)


def test_without_earlier_job_times_there_is_no_estimate(tmp_path: Path) -> None:
    (tmp_path / "torn.tsv").write_text("s\th:m:s\n")  # a benchmark file cut short
    jobs = [PlannedJob("build_pool", tmp_path / "missing.tsv", 2, False)]
    jobs.append(PlannedJob("build_store", tmp_path / "torn.tsv", 2, True))
    assert progress.run_estimate(jobs, cores=2) == (
        "imgbench: no estimate of this run's time: none of its 2 jobs has a time from an "
        "earlier run in results/benchmarks/"
    )


def test_the_closing_line_names_what_the_run_made(tmp_path: Path) -> None:
    table, report = tmp_path / "benchmark.md", tmp_path / "report.html"
    line = progress.closing_line(75, time.time(), [table], report, "`make report`")
    assert line == f"imgbench: the run took 1 min 15 s; `make report` makes {report}"
    table.write_text("# results")
    report.write_text("<html>")
    started = time.time() - 75
    assert progress.closing_line(75, started, [table], report, "`make report`") == (
        f"imgbench: the run took 1 min 15 s; results in {table}; the HTML report is {report}"
    )
    later = time.time() + 60  # a run of one target, started after both were made
    assert progress.closing_line(5, later, [table], report, "`make report`") == (
        f"imgbench: the run took 5 s; results in {table} (not updated by this run); "
        f"the HTML report is {report} (not updated by this run)"
    )


# --- The real pipeline: one job made long ----------------------------------------------------


def seconds_in(words: str) -> float:
    """`progress.duration`'s words back as seconds."""
    units = {"h": 3600, "min": 60, "s": 1}
    return sum(int(count) * units[unit] for count, unit in re.findall(r"(\d+) (h|min|s)\b", words))


@pytest.mark.pipeline
def test_a_long_job_shows_progress_and_a_second_run_is_estimated(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    first = run_snakemake(project, LONG, LONG_JOB_TABLE)
    assert first.returncode == 0, first.output[-4000:]
    assert "imgbench: no estimate of this run's time: none of its 4 jobs" in first.output
    shown = [line for line in first.output.splitlines() if re.match(r"imgbench: \w+ ", line)]
    long_lines = [line for line in shown if "repeat" in line]
    assert long_lines and all(
        line.startswith("imgbench: single_image lmdb/fast/raw/32px: repeat ") for line in long_lines
    )
    # The short jobs (the archive, its extraction, the pool) printed nothing of their own.
    assert not [line for line in shown if re.match(r"imgbench: (synthesize|extract|build)", line)]
    assert "about" in long_lines[0] and "left (running 1" in long_lines[0]
    assert re.search(r"imgbench: the run took \d+ s; `make report`", first.output)
    log = (project / "results/logs/single_image/lmdb/fast/raw/32px.log").read_text()
    assert "imgbench:" not in log  # the job's log keeps the detail, the terminal the lines

    started = time.perf_counter()
    second = run_snakemake(project, LONG, LONG_JOB_TABLE, "--forcerun", "single_image")
    took = time.perf_counter() - started
    assert second.returncode == 0, second.output[-4000:]
    estimate = re.search(r"imgbench: this run should take about (.+?) for 1 job, ", second.output)
    assert estimate, second.output[-3000:]
    assert took / 2 <= seconds_in(estimate[1]) <= took * 2
