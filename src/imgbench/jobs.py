"""One function per pipeline job, called by the thin scripts in `workflow/scripts/`.

Each takes plain paths and values (everything a job uses from config arrives as a Snakemake
param), so the same work can be run, and tested, without Snakemake.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from imgbench import dataset, measure, synthetic, tables
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
    method: str, pool: Path, n_images: int, store: Path, table: Path, repeats: int
) -> None:
    images, labels = dataset.Pool.load(pool).first(n_images)
    timings = measure.time_write_many(get_store(method, "fast"), images, labels, store, repeats)
    _write_timings(table, method, n_images, timings)


def read_store(
    method: str, pool: Path, n_images: int, store: Path, table: Path, repeats: int
) -> None:
    images, labels = dataset.Pool.load(pool).first(n_images)
    timings = measure.time_read_many(get_store(method, "fast"), store, images, labels, repeats)
    _write_timings(table, method, n_images, timings)


def single_image(method: str, pool: Path, table: Path, repeats: int, operations: int) -> None:
    images, labels = dataset.Pool.load(pool).first(operations)
    timings = measure.time_single(
        get_store(method, "fast"), images, labels, table, repeats, operations
    )
    _write_timings(table, method, 1, timings)


def disk_usage(method: str, n_images: int, store: Path, table: Path) -> None:
    allocated, apparent = measure.disk_usage_kib(store)
    row = {"method": method, "n_images": n_images}
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


def _write_timings(table: Path, method: str, n_images: int, timings: list[measure.Timing]) -> None:
    rows = [timing.row(method=method, n_images=n_images) for timing in timings]
    tables.write_rows(table, tables.TIMING_COLUMNS, rows)
    for timing in timings:
        print(f"{method} n={n_images} {timing.operation} #{timing.repeat}: {timing.seconds:.6f} s")
