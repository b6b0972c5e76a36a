"""One function per pipeline job, called by the thin scripts in `workflow/scripts/`.

Each takes plain paths and values (everything a job uses from config arrives as a Snakemake
param), so the same work can be run, and tested, without Snakemake.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import yaml

from imgbench import archive, benchmark, dataset, machine, measure, provenance, synthetic, tables
from imgbench.errors import ImgbenchError
from imgbench.files import atomic_path, tree_sha256
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
            _explain(log_stream, console, str(error))
            raise SystemExit(1) from None
        except Exception as error:  # h5py reports a full disk as a RuntimeError, lmdb its own
            if not out_of_space(error):
                traceback.print_exc()
                raise
            _explain(log_stream, console, OUT_OF_SPACE_ADVICE.format(error=error))
            raise SystemExit(1) from None
        except BaseException:
            traceback.print_exc()
            raise
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, console


OUT_OF_SPACE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
OUT_OF_SPACE_ADVICE = (
    "the disk is full, or a file reached this process's file-size limit (`ulimit -f`), while "
    "writing ({error}). Nothing partial was kept under its final name; free space under "
    "results/ (or lower `cutoffs`), then run again."
)


def out_of_space(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is a full disk, quota or file-size limit. Libraries
    wrapping C code (h5py, lmdb) keep the system's message but not always its errno or type."""
    messages = [os.strerror(number) for number in OUT_OF_SPACE_ERRNOS]
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, OSError) and current.errno in OUT_OF_SPACE_ERRNOS:
            return True
        if any(message in str(current) for message in messages):
            return True
        current = current.__cause__ or current.__context__
    return False


def _explain(log_stream: TextIO, console: TextIO, explanation: str) -> None:
    """The traceback for the log, then the explanation in the log and on the console."""
    traceback.print_exc()
    message = f"imgbench: {explanation}"
    print(message, file=log_stream)
    print(message, file=console)


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
    _write_timings(table, timings, method, implementation, n_images, store)


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
    _write_timings(table, timings, method, implementation, n_images, store)


def single_image(
    method: str,
    implementation: str,
    pool: Path,
    scratch: Path,
    table: Path,
    repeats: int,
    operations: int,
) -> None:
    """One-image stores are written beside `scratch`, in the stores folder, like the big ones."""
    images, labels = dataset.Pool.load(pool).first(operations)
    store = get_store(method, implementation)
    timings = measure.time_single(store, images, labels, scratch, repeats, operations)
    _write_timings(table, timings, method, implementation, 1, scratch)


def disk_usage(method: str, implementation: str, n_images: int, store: Path, table: Path) -> None:
    """`du` of the store and one checksum of its data, so two runs' stores can be compared."""
    allocated, apparent = measure.disk_usage_kib(store)
    checksum = tree_sha256(store, ignore=get_store(method, implementation).volatile)
    row = {"method": method, "implementation": implementation, "n_images": n_images}
    row |= {"kib_allocated": allocated, "kib_apparent": apparent, "sha256": checksum}
    tables.write_rows(table, tables.DISK_COLUMNS, [row])
    print(f"{store}: {allocated} KiB allocated, {apparent} KiB apparent, SHA-256 {checksum}")


def aggregate(
    timing_tables: Sequence[Path],
    disk_tables: Sequence[Path],
    provenance_record: Path,
    timings: Path,
    disk: Path,
    summary: Path,
) -> None:
    """Tidy tables whose every row names the run (see `provenance`) it belongs to."""
    run_id = provenance.read(provenance_record)["run_id"]
    all_timings = tables.concat_tables(timing_tables, tables.TIMING_COLUMNS)
    all_disk = tables.concat_tables(disk_tables, tables.DISK_COLUMNS)
    for frame, path in (
        (tables.summarise(all_timings), summary),
        (all_timings, timings),
        (all_disk, disk),
    ):
        tables.write_table(frame.assign(run_id=run_id)[["run_id", *frame.columns]], path)


def record_provenance(
    code: dict[str, object],
    config: dict[str, object],
    archive_path: Path,
    checksum: Path,
    result_tables: Sequence[Path],
    disk_tables: Sequence[Path],
    record: Path,
    effective_config: Path,
) -> None:
    stores = tables.concat_tables(disk_tables, tables.DISK_COLUMNS)
    timing_tables = [path for path in result_tables if path not in set(disk_tables)]
    timings = tables.concat_tables(timing_tables, tables.TIMING_COLUMNS)
    measured_on = timings[["host", "filesystem"]].astype(str).drop_duplicates()
    keys = ["method", "implementation", "n_images", "sha256"]
    built = provenance.build(
        code=code,
        config=config,
        archive=archive_path,
        verified_md5=checksum.read_text().strip(),
        results=record.parent,
        result_tables=result_tables,
        stores=stores[keys].to_dict("records"),
        measured_on=measured_on.sort_values(["host", "filesystem"]).to_dict("records"),
    )
    provenance.write(built, record)
    with atomic_path(effective_config) as partial:
        partial.write_text(yaml.safe_dump(config, sort_keys=False))
    print(f"run {built['run_id']}: provenance in {record}, effective config in {effective_config}")


def html_report(snakefile: Path, effective_config: Path, report: Path) -> None:
    """Snakemake's own HTML report of this run (figures, tables, captions, runtimes)."""
    with atomic_path(report) as partial:
        html = partial.with_suffix(".html")
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile)]
        command += ["--configfile", str(effective_config), "--nolock", "--report", str(html)]
        completed = subprocess.run(command, capture_output=True, text=True)
        print(completed.stdout + completed.stderr)
        if completed.returncode != 0 or not html.is_file():
            raise ImgbenchError(f"`{' '.join(command)}` failed; its output is in this job's log")
        html.replace(partial)


def pack_archive(record: Path, files: dict[str, Path], out: Path) -> None:
    run_id = provenance.read(record)["run_id"]
    if out.name != archive.archive_name(run_id):
        raise ImgbenchError(f"{out} is not the archive of run {run_id}; rerun `snakemake archive`")
    archive.create(out, run_id, files)
    print(f"archived run {run_id} in {out}: " + ", ".join(sorted(files)))


def figures(summary: Path, disk: Path, outdir: Path) -> None:
    from imgbench import plots  # matplotlib is slow to import; only this job needs it

    written = plots.plot_all(tables.read_table(summary), tables.read_table(disk), outdir)
    print("\n".join(map(str, written)))


def benchmark_report(
    summary: Path, disk: Path, provenance_record: Path, report: Path, config: dict[str, object]
) -> None:
    record = provenance.read(provenance_record)
    text = benchmark.render(
        tables.read_table(summary),
        tables.read_table(disk),
        record["machine"] | {"libraries": record["software"], "measured_on": record["measured_on"]},
        {"run id": record["run_id"], **config},
    )
    with atomic_path(report) as partial:
        partial.write_text(text)
    print(text)


def _write_timings(
    table: Path,
    timings: list[measure.Timing],
    method: str,
    implementation: str,
    n_images: int,
    store: Path,
) -> None:
    """Rows labelled with the cell, the host and the filesystem type the store was on."""
    labels = {"method": method, "implementation": implementation, "n_images": n_images}
    where = {"host": socket.gethostname(), "filesystem": machine.filesystem(store.parent)["type"]}
    rows = [timing.row(**labels) | where for timing in timings]
    tables.write_rows(table, tables.TIMING_COLUMNS, rows)
    for timing in timings:
        print(
            f"{method}/{implementation} n={n_images} {timing.operation} {timing.phase} "
            f"{timing.cache} {timing.order} readers={timing.readers} #{timing.repeat}."
            f"{timing.sample}: {timing.seconds:.6f} s"
        )
