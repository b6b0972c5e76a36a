"""How every pipeline job runs: its output in its log, an expected failure explained where the user
looks. The thin scripts in `workflow/scripts/` run their library call inside `job_log`.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from imgbench import progress
from imgbench.errors import ImgbenchError


@contextmanager
def job_log(log: str | Path) -> Iterator[None]:
    """Run the block with its output in `log`, its progress lines (`imgbench.progress`) on the
    console once it runs long; an expected failure is explained on the console.

    Snakemake only points at the log of a failed job, so the explanation of an expected failure
    is printed where the user is looking, with the traceback in the log for whoever needs it. An
    unexpected failure keeps its traceback in both places.
    """
    console = sys.stderr
    with open(log, "w") as log_stream, progress.reporting(progress.job_name(Path(log)), console):
        sys.stdout = sys.stderr = log_stream
        try:
            yield
        except Exception as error:  # h5py reports a full disk as a RuntimeError, lmdb its own
            # First a full disk, even inside an imgbench error: a writer process's failure
            # reaches its parent as a StoreError carrying the writer's traceback.
            if out_of_space(error):
                _explain(log_stream, console, OUT_OF_SPACE_ADVICE.format(error=error))
            elif isinstance(error, ImgbenchError):
                _explain(log_stream, console, str(error))
            else:
                traceback.print_exc()
                raise
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
