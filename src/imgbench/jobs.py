"""One function per pipeline job, called by the thin scripts in `workflow/scripts/`.

Each takes plain paths and values (everything a job uses from config arrives as a Snakemake
param), so the same work can be run, and tested, without Snakemake.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from imgbench import benchmark, dataset, machine, measure, synthetic, tables
from imgbench.errors import ImgbenchError
from imgbench.files import atomic_path
from imgbench.stores import get_store


def run_job(log: str | Path, job: Callable[..., object], **arguments: object) -> None:
    """Run `job` with its output in `log`; an expected failure is explained on the console too.

    Snakemake only points at the log of a failed job, so the explanation of an expected failure
    is printed where the user is looking, with the traceback in the log for whoever needs it. An
    unexpected failure keeps its traceback in both places.
    """
    console = sys.stderr
    with open(log, "w") as log_stream:
        sys.stdout = sys.stderr = log_stream
        try:
            job(**arguments)
        except ImgbenchError as error:
            traceback.print_exc()
            message = f"imgbench: {error}"
            print(message, file=log_stream)
            print(message, file=console)
            raise SystemExit(1) from None
        except BaseException:
            traceback.print_exc()
            raise
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, console


def write_md5(path: Path, md5: str) -> None:
    with atomic_path(path) as partial:
        partial.write_text(f"{md5}\n")


def fetch_archive(
    archive: Path,
    checksum: Path,
    md5: str,
    url: str,
    local_archive: str | None,
    retries: int,
    timeout_seconds: float,
) -> None:
    dataset.fetch_archive(
        archive,
        md5,
        url=url,
        local_archive=Path(local_archive) if local_archive else None,
        retries=retries,
        timeout=timeout_seconds,
    )
    write_md5(checksum, md5)
    print(f"fetched and verified {archive} (MD5 {md5})")


def synthesize_archive(archive: Path, checksum: Path, images: int, seed: int) -> None:
    md5 = synthetic.write_synthetic_archive(archive, images, seed)
    write_md5(checksum, md5)
    print(f"wrote synthetic archive {archive}: {images} training images, seed {seed}, MD5 {md5}")


def extract_archive(archive: Path, checksum: Path, out: Path) -> None:
    dataset.verify_md5(archive, checksum.read_text().strip())
    dataset.extract_archive(archive, out)
    print(f"verified and extracted {archive} into {out}")


def build_pool(batches: Path, out: Path) -> None:
    count = dataset.build_pool(batches, out)
    print(f"image pool {out}: {count} training images")


def build_store(
    method: str,
    implementation: str,
    pool: Path,
    n_images: int,
    store: Path,
    table: Path,
    repeats: int,
) -> None:
    images, labels = dataset.Pool.load(pool).first(n_images)
    writer = get_store(method, implementation)
    timings = measure.time_write_many(writer, images, labels, store, repeats)
    _write_timings(table, timings, method, implementation, n_images)


def read_store(
    method: str,
    implementation: str,
    pool: Path,
    n_images: int,
    store: Path,
    table: Path,
    repeats: int,
    caches: list[str],
    orders: list[str],
    readers: list[int],
    seed: int,
) -> None:
    images, labels = dataset.Pool.load(pool).first(n_images)
    cells = measure.read_cells(caches, orders, readers)
    reader = get_store(method, implementation)
    timings = measure.time_reads(reader, store, images, labels, repeats, cells, seed)
    _write_timings(table, timings, method, implementation, n_images)


def single_image(
    method: str, implementation: str, pool: Path, table: Path, repeats: int, operations: int
) -> None:
    images, labels = dataset.Pool.load(pool).first(operations)
    store = get_store(method, implementation)
    timings = measure.time_single(store, images, labels, table, repeats, operations)
    _write_timings(table, timings, method, implementation, 1)


def disk_usage(method: str, implementation: str, n_images: int, store: Path, table: Path) -> None:
    allocated, apparent = measure.disk_usage_kib(store)
    row = {"method": method, "implementation": implementation, "n_images": n_images}
    row |= {"kib_allocated": allocated, "kib_apparent": apparent}
    tables.write_rows(table, tables.DISK_COLUMNS, [row])
    print(f"{store}: {allocated} KiB allocated, {apparent} KiB apparent")


def aggregate(
    timing_tables: Sequence[Path],
    disk_tables: Sequence[Path],
    timings: Path,
    disk: Path,
    summary: Path,
) -> None:
    all_timings = tables.concat_tables(timing_tables, tables.TIMING_COLUMNS)
    tables.write_table(all_timings, timings)
    tables.write_table(tables.concat_tables(disk_tables, tables.DISK_COLUMNS), disk)
    tables.write_table(tables.summarise(all_timings), summary)


def figures(summary: Path, disk: Path, outdir: Path) -> None:
    from imgbench import plots  # matplotlib is slow to import; only this job needs it

    written = plots.plot_all(tables.read_table(summary), tables.read_table(disk), outdir)
    print("\n".join(map(str, written)))


def benchmark_report(summary: Path, disk: Path, report: Path, config: dict[str, object]) -> None:
    machine_info = machine.describe(report.parent)
    machine_info["libraries"] = machine.library_versions()
    text = benchmark.render(
        tables.read_table(summary), tables.read_table(disk), machine_info, config
    )
    with atomic_path(report) as partial:
        partial.write_text(text)
    print(text)


def _write_timings(
    table: Path, timings: list[measure.Timing], method: str, implementation: str, n_images: int
) -> None:
    labels = {"method": method, "implementation": implementation, "n_images": n_images}
    rows = [timing.row(**labels) for timing in timings]
    tables.write_rows(table, tables.TIMING_COLUMNS, rows)
    for timing in timings:
        print(
            f"{method}/{implementation} n={n_images} {timing.operation} {timing.phase} "
            f"{timing.cache} {timing.order} readers={timing.readers} #{timing.repeat}."
            f"{timing.sample}: {timing.seconds:.6f} s"
        )
