"""Hidden thread pools capped at the job's threads, so a timing job uses the cores it declared
and no library spins up threads of its own beside the measured code.

Libraries read their cap in one of two ways: from an environment variable when they load or
first start a pool (OpenMP, OpenBLAS, MKL, Blosc, numexpr, Arrow, Lance, zarr-python; forked
reader processes inherit it), or through threadpoolctl for pools that are already loaded (numpy's
OpenBLAS is loaded before any job code runs). Both are set; `caps` is what the provenance record
keeps. TensorStore and TileDB take their limits from a context their stores build from the
job's workers.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_info, threadpool_limits

ENVIRONMENT = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "BLOSC_NTHREADS",
    "ARROW_IO_THREADS",  # Arrow's I/O pool; its CPU pool follows OMP_NUM_THREADS
    "LANCE_CPU_THREADS",
    "LANCE_IO_THREADS",
    "ZARR_THREADING__MAX_WORKERS",  # zarr-python's codec threads (TensorStore: a context, per job)
)


def caps(threads: int) -> dict[str, int]:
    """The thread cap of every pool a job with `threads` threads sets."""
    return {name: threads for name in ENVIRONMENT} | {"threadpoolctl (loaded BLAS/OpenMP)": threads}


def pin(threads: int) -> list[str]:
    """Cap every pool at `threads` for the rest of the process; lines saying what was capped."""
    os.environ.update({name: str(threads) for name in ENVIRONMENT})
    threadpool_limits(limits=threads)
    loaded = [
        f"{pool['internal_api']} ({pool['prefix']}): {pool['num_threads']} thread(s)"
        for pool in threadpool_info()
    ]
    return [f"thread pools capped at {threads}: {', '.join(ENVIRONMENT)}", *loaded]


def pin_for_job(threads: int) -> None:
    """`pin`, saying in the job's log what was capped."""
    for line in pin(threads):
        print(line)
