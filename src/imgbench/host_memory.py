"""Memory a virtual machine's host takes back, and how a measurement avoids paying for it.

On a VM whose balloon driver reports free pages to the host (virtio-balloon free page
reporting, as on the machines this project is developed on), memory the guest frees is handed
back to the host within a few seconds, and the next large allocation has to fault it in again:
about 0.5 s per 300 MB against 0.06 s for memory the host still backs. A store that was just
deleted, a page cache just evicted for a cold read or a result array just freed is such memory,
so without care the timed region pays for it, at random: that was most of the one-sided
outliers of writes and cold reads (measured 2026-11-25, see `docs/measurement.md`).

`back` touches and frees a buffer as large as the memory a timed write will need, just before
it: the write's page cache then takes freed pages the host still backs. (Before reads it did not
help: the pages it frees were sometimes handed back during the read instead.)
`Watch` records how much memory was reported to the host during a timed region, so any outlier
that remains can be traced; on a machine without free page reporting it records nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPORTED = Path("/sys/module/page_reporting/parameters/reported_kib")


def reported_kib() -> int | None:
    """KiB of free memory the guest has reported to the host so far, or None without reporting."""
    try:
        return int(REPORTED.read_text())
    except (OSError, ValueError):
        return None


def back(nbytes: int) -> None:
    """Have the host back `nbytes` of free memory again, outside any timed region."""
    if nbytes > 0:
        np.ones(nbytes, dtype=np.uint8)


class Watch:
    """`with Watch() as watch:` around a timed region; `watch.kib` is then the memory reported
    to the host meanwhile (None where the machine does not report)."""

    def __init__(self) -> None:
        self.kib: int | None = None
        self._start: int | None = None

    def __enter__(self) -> Watch:
        self._start = reported_kib()
        return self

    def __exit__(self, *exc_info: object) -> None:
        end = reported_kib()
        if self._start is not None and end is not None:
            self.kib = end - self._start
