"""The tutorial's claims, each checked against this run's numbers: a registry of claims, each with
its words, the experiment that tests it and a rule that turns the run's tables into a verdict.

The tutorial (Real Python, "Three Ways of Storing and Accessing Lots of Images in Python") makes
about a dozen claims, some measured once on one machine and some from experience. A rule reads
only the aggregated tables (`summary.csv`, `disk_usage.csv`) and the records of the claims'
experiments (appends, concurrent writers), and names the summary cells it decided on, so every
verdict can be traced to rows of `summary.csv`.

A comparison of two timed cells holds when their 95% intervals (`seconds_ci_low`..`_high`) are
apart in the claimed direction, does not hold when they are apart the other way, and is
inconclusive when they overlap; a ratio's interval is taken conservatively, from the ends of both
intervals. Disk use is exact (`du`), so its comparisons need no interval. A claim whose
experiment the config left out is `not measured`, with the config that turns it on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import pandas as pd

from imgbench.cells import (
    CLAIM_COLUMNS,
    CLAIM_EXPERIMENT_COLUMNS,
    CODEC_COLUMN,
    FORMAT_COLUMN,
    RAW_CODEC,
    SIZE_COLUMN,
    TUTORIAL_IMAGE_SIZE,
    Cache,
    Operation,
    Order,
    Phase,
    claims_size,
    image_sizes,
    upgrade_old_table,
)
from imgbench.confidence import Interval
from imgbench.confidence import Verdict as TargetVerdict
from imgbench.confidence import verdict as target_verdict
from imgbench.tables import read_table, write_table


class Verdict(StrEnum):
    HOLDS = "holds"
    DOES_NOT_HOLD = "does not hold"
    INCONCLUSIVE = "inconclusive"  # the intervals do not separate the cases
    NOT_MEASURED = "not measured"  # the config left the experiment out


Store = tuple[str, str, str]  # (format, implementation, codec)
TUTORIAL_CODE = ("tutorial", "fast")  # whose cells test the tutorial's experiments, first found
TUTORIAL_CODECS = {"files": "png", "lmdb": RAW_CODEC, "hdf5": RAW_CODEC}
BY_FAR = 2.0  # "by far the slowest": at least twice the time of each other
TRIVIAL_SECONDS = 0.010  # "trivially quick": a one-image read a person would not notice
PARALLEL_EFFICIENCY = 0.7  # "divide the time by ten": a speed-up of at least 70% of the processes
# One writer at a time: a writer blocked on the store's write lock for at least this share of the
# wall time (writers of lock-free formats report no wait at all)...
LOCK_WAIT_SHARE = 0.05
NO_LOCK_WAIT_SHARE = 0.01  # ...and writers that waited less than this were not held back
READ_ONE_SMALL_KIB = 1024  # a one-image read that adds at most this, plus 1% of the store...
READ_ONE_WHOLE_SHARE = 0.5  # ...read only its item; one adding half the store read the store
LARGE_SIDE = 256  # the tutorial's "256x256"
LARGE_IMAGES = 10_000  # the N the large-image claims are checked at, if every size measured it


@dataclass(frozen=True)
class Cell:
    """One summary row: its median and 95% interval, and where it is in `summary.csv`."""

    median: float
    low: float
    high: float
    trace: str

    @classmethod
    def of(cls, row: Mapping[str, object]) -> Cell:
        readers, writers = int(row["readers"]), int(row["writers"])  # type: ignore[call-overload]
        where = [str(row["operation"]), str(row["phase"])]
        where += [str(row[factor]) for factor in ("cache", "order") if row[factor] != "n/a"]
        where += [f"{readers} reader(s)"] if readers != 1 else []
        where += [f"{writers} writer(s)"] if writers != 1 else []
        trace = (
            f"{row[FORMAT_COLUMN]}/{row['implementation']}/{row[CODEC_COLUMN]} "
            f"{int(row[SIZE_COLUMN])} px N={int(row['n_images']):,} {' '.join(where)}"  # type: ignore[call-overload]
        )
        return cls(
            float(row["seconds_median"]),  # type: ignore[arg-type]
            float(row["seconds_ci_low"]),  # type: ignore[arg-type]
            float(row["seconds_ci_high"]),  # type: ignore[arg-type]
            trace,
        )

    def words(self, scale: float = 1.0, unit: str = "s") -> str:
        """ "1.20 ms (1.15–1.31)" """
        return (
            f"{_number(self.median * scale)} {unit} "
            f"({_number(self.low * scale)}–{_number(self.high * scale)})"
        )


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def below(a: Cell, b: Cell) -> Verdict:
    """Whether `a` takes less time than `b`, as their intervals say."""
    if a.high < b.low:
        return Verdict.HOLDS
    if a.low > b.high:
        return Verdict.DOES_NOT_HOLD
    return Verdict.INCONCLUSIVE


def ratio(a: Cell, b: Cell) -> Interval:
    """`a`'s time ÷ `b`'s, its interval from the ends of both intervals (conservative)."""
    return Interval(a.median / b.median, a.low / b.high, a.high / b.low, math.nan)


def ratio_words(interval: Interval) -> str:
    return f"{interval.estimate:.2f}× ({interval.low:.2f}–{interval.high:.2f})"


def reaches(interval: Interval, limit: float, *, at_least: bool = True) -> Verdict:
    """Whether a ratio's interval is on the claimed side of `limit` (`confidence.verdict`)."""
    judged = target_verdict(interval, limit, at_least=at_least)
    return {
        TargetVerdict.MET: Verdict.HOLDS,
        TargetVerdict.NOT_MET: Verdict.DOES_NOT_HOLD,
    }.get(judged, Verdict.INCONCLUSIVE)


def all_of(verdicts: Iterable[Verdict]) -> Verdict:
    """A claim of several parts holds when every part does, fails when one fails."""
    found = list(verdicts)
    if Verdict.DOES_NOT_HOLD in found:
        return Verdict.DOES_NOT_HOLD
    if Verdict.NOT_MEASURED in found or not found:
        return Verdict.NOT_MEASURED
    return Verdict.HOLDS if all(one == Verdict.HOLDS for one in found) else Verdict.INCONCLUSIVE


@dataclass(frozen=True)
class Finding:
    """What a rule found: the verdict, the key figures behind it and the cells it used."""

    verdict: Verdict
    measured: str
    cells: tuple[str, ...] = ()


def not_measured(what: str) -> Finding:
    return Finding(Verdict.NOT_MEASURED, what)


@dataclass(frozen=True)
class Evidence:
    """What the rules read: the run's tables at the size the claims are checked at (the
    tutorial's 32 px if measured), the disk table at every size, the claims' experiments'
    records and the machine's cores."""

    summary: pd.DataFrame
    disk: pd.DataFrame
    appends: pd.DataFrame
    writers: pd.DataFrame
    cores: int
    size: int = TUTORIAL_IMAGE_SIZE
    all_disk: pd.DataFrame = field(default_factory=pd.DataFrame)

    @classmethod
    def of(
        cls,
        summary: pd.DataFrame,
        disk: pd.DataFrame,
        appends: Sequence[Mapping[str, object]],
        writers: Sequence[Mapping[str, object]],
        cores: int,
    ) -> Evidence:
        size = claims_size(image_sizes(summary) or [TUTORIAL_IMAGE_SIZE])
        return cls(
            summary[summary[SIZE_COLUMN] == size],
            disk[disk[SIZE_COLUMN] == size],
            pd.DataFrame(list(appends)),
            pd.DataFrame(list(writers)),
            cores,
            size,
            disk,
        )

    def cells(self, operation: str, phase: str, store: Store, **factors: object) -> pd.DataFrame:
        """The summary rows of one store and operation, with `factors` as given, by N."""
        frame = self.summary
        mask = (frame["operation"] == operation) & (frame["phase"] == phase)
        for column, value in zip(
            (FORMAT_COLUMN, "implementation", CODEC_COLUMN), store, strict=True
        ):
            mask &= frame[column] == value
        for column, value in factors.items():
            mask &= frame[column] == value
        return frame[mask].sort_values("n_images")

    def cell(
        self, operation: str, phase: str, store: Store, n: int | None = None, **factors: object
    ) -> Cell | None:
        """One cell: at N = `n`, or the largest N measured."""
        rows = self.cells(operation, phase, store, **factors)
        if n is not None:
            rows = rows[rows["n_images"] == n]
        return Cell.of(rows.iloc[-1].to_dict()) if len(rows) else None

    def tutorial_stores(
        self, operation: str, phase: str, names: Sequence[str] = tuple(TUTORIAL_CODECS)
    ) -> dict[str, Store] | None:
        """The tutorial's stores (PNG files, LMDB, HDF5, or those `names`) in the first
        implementation of `TUTORIAL_CODE` with all of them measured for `operation`."""
        for implementation in TUTORIAL_CODE:
            stores = {name: (name, implementation, TUTORIAL_CODECS[name]) for name in names}
            if all(len(self.cells(operation, phase, store)) for store in stores.values()):
                return stores
        return None


READ_REFERENCE = {"cache": Cache.WARM, "order": Order.SEQUENTIAL, "readers": 1}


# --- The rules -----------------------------------------------------------------------------------


def _single_write(evidence: Evidence) -> Finding:
    stores = evidence.tutorial_stores(Operation.WRITE_SINGLE, Phase.WRITE)
    if stores is None:
        return not_measured("no one-image writes of PNG files, LMDB and HDF5")
    cells = {
        name: evidence.cell(Operation.WRITE_SINGLE, Phase.WRITE, store)
        for name, store in stores.items()
    }
    files, lmdb, hdf5 = (cells[name] for name in ("files", "lmdb", "hdf5"))
    assert files and lmdb and hdf5
    verdict = all_of([below(lmdb, files), below(lmdb, hdf5), below(files, hdf5)])
    measured = (
        f"LMDB {lmdb.words(1e3, 'ms')}, PNG {files.words(1e3, 'ms')}, "
        f"HDF5 {hdf5.words(1e3, 'ms')} ({stores['files'][1]} code)"
    )
    return Finding(verdict, measured, (lmdb.trace, files.trace, hdf5.trace))


def _single_read(evidence: Evidence) -> Finding:
    stores = evidence.tutorial_stores(Operation.READ_SINGLE, Phase.READ)
    if stores is None:
        return not_measured("no one-image reads of PNG files, LMDB and HDF5")
    cells = {
        name: evidence.cell(Operation.READ_SINGLE, Phase.READ, store)
        for name, store in stores.items()
    }
    files, lmdb, hdf5 = (cells[name] for name in ("files", "lmdb", "hdf5"))
    assert files and lmdb and hdf5
    quick = [
        Verdict.HOLDS
        if cell.high <= TRIVIAL_SECONDS
        else Verdict.DOES_NOT_HOLD
        if cell.low > TRIVIAL_SECONDS
        else Verdict.INCONCLUSIVE
        for cell in (files, lmdb, hdf5)
    ]
    verdict = all_of([below(files, lmdb), below(files, hdf5), *quick])
    measured = (
        f"PNG {files.words(1e3, 'ms')}, LMDB {lmdb.words(1e3, 'ms')}, "
        f"HDF5 {hdf5.words(1e3, 'ms')}; trivially quick: under {TRIVIAL_SECONDS * 1e3:g} ms "
        f"({stores['files'][1]} code)"
    )
    return Finding(verdict, measured, (files.trace, lmdb.trace, hdf5.trace))


def _many_png_slowest(evidence: Evidence) -> Finding:
    parts: list[Verdict] = []
    words: list[str] = []
    traces: list[str] = []
    for operation, phase, factors, kind in (
        (Operation.WRITE_MANY, Phase.WRITE, {}, "write"),
        (Operation.READ_MANY, Phase.READ, READ_REFERENCE, "read"),
    ):
        stores = evidence.tutorial_stores(operation, phase)
        if stores is None:
            return not_measured(f"no whole-store {kind}s of PNG files, LMDB and HDF5")
        n = _largest_common_n(evidence, operation, phase, stores.values(), **factors)
        cells = {
            name: evidence.cell(operation, phase, store, n, **factors)
            for name, store in stores.items()
        }
        files = cells["files"]
        assert files
        for other in ("lmdb", "hdf5"):
            cell = cells[other]
            assert cell
            interval = ratio(files, cell)
            parts.append(reaches(interval, BY_FAR))
            words.append(f"{kind} PNG ÷ {other.upper()} {ratio_words(interval)}")
            traces += [files.trace, cell.trace]
    measured = f"at N={n:,}: " + "; ".join(words) + f" (by far: ≥ {BY_FAR:g}×)"
    return Finding(all_of(parts), measured, tuple(dict.fromkeys(traces)))


def _largest_common_n(
    evidence: Evidence, operation: str, phase: str, stores: Iterable[Store], **factors: object
) -> int:
    shared = set.intersection(
        *(set(evidence.cells(operation, phase, store, **factors)["n_images"]) for store in stores)
    )
    return int(max(shared)) if shared else -1


def crossover(lmdb: pd.DataFrame, hdf5: pd.DataFrame) -> tuple[Verdict, str, list[str]]:
    """Whether HDF5 is slower than LMDB at the smallest N and faster at the largest, and where
    it overtakes: between the last N where it is surely slower and the first where it is surely
    faster after it (the crossover's interval)."""
    common = sorted(set(lmdb["n_images"]) & set(hdf5["n_images"]))
    if len(common) < 2:
        return Verdict.NOT_MEASURED, "fewer than two N with both", []
    pairs = [
        (
            n,
            Cell.of(lmdb[lmdb["n_images"] == n].iloc[0].to_dict()),
            Cell.of(hdf5[hdf5["n_images"] == n].iloc[0].to_dict()),
        )
        for n in common
    ]
    hdf5_faster = [(n, below(of_hdf5, of_lmdb)) for n, of_lmdb, of_hdf5 in pairs]
    first_slower = below(pairs[0][1], pairs[0][2])  # LMDB below HDF5 at the smallest N
    last_faster = hdf5_faster[-1][1]
    slower_ns = [n for n, faster in hdf5_faster if faster == Verdict.DOES_NOT_HOLD]
    faster_after = [
        n
        for n, faster in hdf5_faster
        if faster == Verdict.HOLDS and (not slower_ns or n > slower_ns[-1])
    ]
    if slower_ns and faster_after:
        where = f"overtakes between N={slower_ns[-1]:,} and N={faster_after[0]:,}"
    elif faster_after:
        where = f"never surely slower; surely faster from N={faster_after[0]:,}"
    else:
        where = "never surely faster"
    ratios = ", ".join(f"{n:,}: {h.median / m.median:.2f}" for n, m, h in pairs)
    words = f"HDF5 ÷ LMDB by N {ratios}; {where}"
    traces = [cell.trace for _, m, h in (pairs[0], pairs[-1]) for cell in (m, h)]
    return all_of([first_slower, last_faster]), words, traces


def _hdf5_overtakes(evidence: Evidence) -> Finding:
    parts, words, traces = [], [], []
    for operation, phase, factors, kind in (
        (Operation.WRITE_MANY, Phase.WRITE, {}, "writes"),
        (Operation.READ_MANY, Phase.READ, READ_REFERENCE, "reads"),
    ):
        stores = evidence.tutorial_stores(operation, phase, ("lmdb", "hdf5"))
        if stores is None:
            return not_measured(f"no whole-store {kind} of LMDB and HDF5")
        verdict, said, used = crossover(
            evidence.cells(operation, phase, stores["lmdb"], **factors),
            evidence.cells(operation, phase, stores["hdf5"], **factors),
        )
        parts.append(verdict)
        words.append(f"{kind}: {said}")
        traces += used
    return Finding(all_of(parts), "; ".join(words), tuple(traces))


def _disk_of(disk: pd.DataFrame, store: Store, n: int) -> int | None:
    rows = disk[
        (disk[FORMAT_COLUMN] == store[0])
        & (disk["implementation"] == store[1])
        & (disk[CODEC_COLUMN] == store[2])
        & (disk["n_images"] == n)
    ]
    return int(rows["kib_allocated"].iloc[0]) if len(rows) else None


def _disk_trace(store: Store, size: int, n: int) -> str:
    return f"disk_usage.csv {'/'.join(store)} {size} px N={n:,}"


def _lmdb_most_disk(evidence: Evidence) -> Finding:
    for implementation in TUTORIAL_CODE:
        stores = {name: (name, implementation, codec) for name, codec in TUTORIAL_CODECS.items()}
        ns = [
            set(evidence.disk[evidence.disk[FORMAT_COLUMN] == name]["n_images"]) for name in stores
        ]
        shared = set.intersection(*ns)
        kib = (
            {name: _disk_of(evidence.disk, store, max(shared)) for name, store in stores.items()}
            if shared
            else {}
        )
        if kib and all(value is not None for value in kib.values()):
            n = max(shared)
            largest = max(kib, key=lambda name: kib[name] or 0)
            verdict = Verdict.HOLDS if largest == "lmdb" else Verdict.DOES_NOT_HOLD
            measured = f"at N={n:,} (du -sk): " + ", ".join(
                f"{name.upper() if name != 'files' else 'PNG files'} {kib[name] / 1024:,.1f} MiB"
                for name in stores
            )
            traces = tuple(_disk_trace(store, evidence.size, n) for store in stores.values())
            return Finding(verdict, measured, traces)
    return not_measured("no disk use of PNG files, LMDB and HDF5 at one N")


def _tutorial_first(implementations: pd.Series) -> pd.Series:
    """A sort key putting the tutorial's code first: its stores are the claims' subject."""
    return implementations != "tutorial"


def _pixel_ratio(disk: pd.DataFrame, name: str, side: int, n: int) -> tuple[float, Store] | None:
    rows = disk[
        (disk[FORMAT_COLUMN] == name)
        & (disk[CODEC_COLUMN] == RAW_CODEC)
        & (disk[SIZE_COLUMN] == side)
        & (disk["n_images"] == n)
    ].sort_values("implementation", key=_tutorial_first)
    if not len(rows):
        return None
    row = rows.iloc[0]
    store = (name, str(row["implementation"]), RAW_CODEC)
    return float(row["kib_allocated"]) * 1024 / (n * side * side * 3), store


def _large_images(evidence: Evidence) -> Finding:
    disk = evidence.all_disk
    sizes = image_sizes(disk)
    if len(sizes) < 2:
        return not_measured("one image size only")
    small, large = sizes[0], (LARGE_SIDE if LARGE_SIDE in sizes else sizes[-1])
    per_size = [set(disk[disk[SIZE_COLUMN] == side]["n_images"]) for side in (small, large)]
    shared = set.intersection(*per_size)
    if not shared:
        return not_measured("no N measured at both sizes")
    n = LARGE_IMAGES if LARGE_IMAGES in shared else int(max(shared))
    lmdb_small = _pixel_ratio(disk, "lmdb", small, n)
    lmdb_large = _pixel_ratio(disk, "lmdb", large, n)
    hdf5_large = _pixel_ratio(disk, "hdf5", large, n)
    if lmdb_small is None or lmdb_large is None or hdf5_large is None:
        return not_measured("LMDB and HDF5 holding raw pixels at both sizes")
    grows = Verdict.HOLDS if lmdb_large[0] > lmdb_small[0] else Verdict.DOES_NOT_HOLD
    compact = Verdict.HOLDS if hdf5_large[0] < lmdb_large[0] else Verdict.DOES_NOT_HOLD
    measured = (
        f"LMDB ÷ its pixels {lmdb_small[0]:.3f}× at {small} px, {lmdb_large[0]:.3f}× at "
        f"{large} px; "
        f"LMDB ÷ HDF5 at {large} px {lmdb_large[0] / hdf5_large[0]:.3f}× (N={n:,}, du -sk)"
    )
    traces = (
        _disk_trace(lmdb_small[1], small, n),
        _disk_trace(lmdb_large[1], large, n),
        _disk_trace(hdf5_large[1], large, n),
    )
    return Finding(all_of([grows, compact]), measured, traces)


def _concurrent_readers(evidence: Evidence) -> Finding:
    frame = evidence.summary
    lmdb = frame[
        (frame[FORMAT_COLUMN] == "lmdb")
        & (frame["operation"] == Operation.READ_MANY)
        & (frame["cache"] == Cache.WARM)
        & (frame["order"] == Order.SEQUENTIAL)
    ]
    several = lmdb[lmdb["readers"] > 1]
    if several.empty:
        return not_measured("no LMDB reads with several reader processes")
    implementation, codec = several.iloc[-1][["implementation", CODEC_COLUMN]]
    store = ("lmdb", str(implementation), str(codec))
    n = int(several[several["implementation"] == implementation]["n_images"].max())
    one = evidence.cell(
        Operation.READ_MANY,
        Phase.READ,
        store,
        n,
        cache=Cache.WARM,
        order=Order.SEQUENTIAL,
        readers=1,
    )
    if one is None:
        return not_measured("no one-reader LMDB read to compare with")
    counts = sorted(
        int(k)
        for k in several[
            (several["implementation"] == implementation) & (several["n_images"] == n)
        ]["readers"]
    )
    curve, traces = [], [one.trace]
    judged = None
    for count in counts:
        cell = evidence.cell(
            Operation.READ_MANY,
            Phase.READ,
            store,
            n,
            cache=Cache.WARM,
            order=Order.SEQUENTIAL,
            readers=count,
        )
        assert cell
        speedup = ratio(one, cell)
        curve.append(f"{count}: {ratio_words(speedup)}")
        traces.append(cell.trace)
        if count <= evidence.cores:
            judged = (count, reaches(speedup, PARALLEL_EFFICIENCY * count))
    if judged is None:
        return not_measured("no LMDB read with 2 to as many readers as cores")
    count, verdict = judged
    measured = (
        f"one reader's time ÷ k readers' at N={n:,}, {store[1]} code: {', '.join(curve)}; "
        f"judged at {count} readers on {evidence.cores} cores (≥ {PARALLEL_EFFICIENCY:.0%} of "
        f"{count}×); beyond the cores no machine divides further"
    )
    return Finding(verdict, measured, tuple(traces))


def _writer_rows(evidence: Evidence, name: str) -> pd.DataFrame:
    frame = evidence.writers
    if frame.empty:
        return frame
    return frame[(frame[FORMAT_COLUMN] == name) & (frame[SIZE_COLUMN] == evidence.size)]


def _speedup_at_cores(evidence: Evidence, name: str) -> tuple[int, Interval, list[str]] | None:
    """t(1 writer) ÷ t(W writers) of a format, W the most writers up to the cores."""
    frame = evidence.summary
    rows = frame[
        (frame[FORMAT_COLUMN] == name) & (frame["operation"] == Operation.WRITE_CONCURRENT)
    ]
    if rows.empty:
        return None
    implementation, codec = rows.iloc[0][["implementation", CODEC_COLUMN]]
    store = (name, str(implementation), str(codec))
    n = int(rows["n_images"].max())
    counts = sorted(int(k) for k in rows["writers"] if 1 < int(k) <= evidence.cores)
    one = evidence.cell(Operation.WRITE_CONCURRENT, Phase.WRITE, store, n, writers=1)
    if one is None or not counts:
        return None
    many = evidence.cell(Operation.WRITE_CONCURRENT, Phase.WRITE, store, n, writers=counts[-1])
    assert many
    return counts[-1], ratio(one, many), [one.trace, many.trace]


def _concurrent_writers(evidence: Evidence) -> Finding:
    parts, words, traces = [], [], []
    files = _speedup_at_cores(evidence, "files")
    if files is None:
        parts.append(Verdict.NOT_MEASURED)
    else:
        count, speedup, used = files
        shared = _writer_rows(evidence, "files")
        one_store = bool(len(shared)) and bool(shared[shared["writers"] == count]["shared"].all())
        verdict = (
            reaches(speedup, PARALLEL_EFFICIENCY * count) if one_store else Verdict.DOES_NOT_HOLD
        )
        parts.append(verdict)
        words.append(f"PNG files: {count} writers into one folder {ratio_words(speedup)} faster")
        traces += used
    lmdb = _writer_rows(evidence, "lmdb")
    several = lmdb[lmdb["writers"] > 1] if len(lmdb) else lmdb
    if several.empty:
        parts.append(Verdict.NOT_MEASURED)
    else:
        row = several.sort_values("writers").iloc[0]
        wait = float(row["lock_wait_share"])
        verdict = (
            Verdict.HOLDS
            if wait >= LOCK_WAIT_SHARE
            else Verdict.DOES_NOT_HOLD
            if wait < NO_LOCK_WAIT_SHARE
            else Verdict.INCONCLUSIVE
        )
        parts.append(verdict if row["shared"] else Verdict.DOES_NOT_HOLD)
        words.append(
            f"LMDB: {int(row['writers'])} writers of one environment, the longest waited "
            f"{wait:.0%} of the time for another's write transaction"
        )
    hdf5 = _writer_rows(evidence, "hdf5")
    several = hdf5[hdf5["writers"] > 1] if len(hdf5) else hdf5
    if several.empty:
        parts.append(Verdict.NOT_MEASURED)
    else:
        row = several.sort_values("writers").iloc[0]
        refused = not bool(row["shared"])
        parts.append(Verdict.HOLDS if refused else Verdict.DOES_NOT_HOLD)
        outcome = f"refused: {row['refusal']}" if refused else "let in"
        words.append(f"HDF5: a second writer of one file was {outcome}")
    if all(part == Verdict.NOT_MEASURED for part in parts):
        return not_measured("no concurrent-writer experiment of PNG files, LMDB or HDF5")
    return Finding(all_of(parts), "; ".join(words), tuple(traces))


def _order_claim(
    evidence: Evidence, name: str, faster: dict[str, object], slower: dict[str, object], what: str
) -> Finding:
    frame = evidence.summary
    rows = frame[(frame[FORMAT_COLUMN] == name) & (frame["operation"] == Operation.READ_MANY)]
    for implementation, codec in dict.fromkeys(
        zip(rows["implementation"], rows[CODEC_COLUMN], strict=True)
    ):
        store = (name, str(implementation), str(codec))
        base = {"cache": Cache.WARM, "readers": 1}
        both = [
            set(evidence.cells(Operation.READ_MANY, Phase.READ, store, **base, **cell)["n_images"])
            for cell in (faster, slower)
        ]
        shared = set.intersection(*both)
        if not shared:
            continue
        n = int(max(shared))
        quick = evidence.cell(Operation.READ_MANY, Phase.READ, store, n, **base, **faster)
        slow = evidence.cell(Operation.READ_MANY, Phase.READ, store, n, **base, **faster | slower)
        assert quick and slow
        measured = (
            f"at N={n:,}, {implementation} code: {what}: {quick.words()} against "
            f"{slow.words()}; ratio {ratio_words(ratio(slow, quick))}"
        )
        return Finding(below(quick, slow), measured, (quick.trace, slow.trace))
    return not_measured(f"no {name} reads in both orders")


def _lmdb_key_order(evidence: Evidence) -> Finding:
    return _order_claim(
        evidence,
        "lmdb",
        {"order": Order.SEQUENTIAL},
        {"order": Order.BATCHED},
        "all images in key order against random order in batches (both bulk reads)",
    )


def _hdf5_range(evidence: Evidence) -> Finding:
    return _order_claim(
        evidence,
        "hdf5",
        {"order": Order.SEQUENTIAL},
        {"order": Order.RANDOM},
        "dataset[i:j] (one range) against dataset[i] one image per call",
    )


def _appends(evidence: Evidence) -> Finding:
    frame = evidence.appends
    if frame.empty:
        return not_measured("no append experiment")
    frame = frame[frame[SIZE_COLUMN] == evidence.size]
    parts, words, traces = [], [], []
    for name, claim in (("lmdb", "map_full"), ("hdf5", "rewrite")):
        rows = frame[frame[FORMAT_COLUMN] == name]
        if rows.empty:
            parts.append(Verdict.NOT_MEASURED)
            continue
        row = rows.sort_values("implementation", key=_tutorial_first).iloc[0]
        store = (name, str(row["implementation"]), str(row[CODEC_COLUMN]))
        if claim == "map_full":
            parts.append(Verdict.HOLDS if bool(row["map_full"]) else Verdict.DOES_NOT_HOLD)
        else:
            parts.append(Verdict.DOES_NOT_HOLD if bool(row["rewrite"]) else Verdict.HOLDS)
        cell = evidence.cell(Operation.APPEND, Phase.WRITE, store, int(row["n_images"]))
        timing = f", {cell.words()}" if cell else ""
        words.append(f"{name.upper()} {store[1]}: {row['needed']}{timing}")
        if cell:
            traces.append(cell.trace)
    return Finding(all_of(parts), "; ".join(words), tuple(traces))


def _read_one_memory(evidence: Evidence) -> Finding:
    frame = evidence.summary
    parts, words, traces = [], [], []
    for name in ("lmdb", "hdf5"):
        rows = frame[(frame[FORMAT_COLUMN] == name) & (frame["operation"] == Operation.READ_ONE)]
        if rows.empty:
            parts.append(Verdict.NOT_MEASURED)
            continue
        row = rows.sort_values("n_images").iloc[-1]
        store = (name, str(row["implementation"]), str(row[CODEC_COLUMN]))
        n = int(row["n_images"])
        store_kib = _disk_of(evidence.disk, store, n)
        grown = float(row["rss_growth_kib_median"])
        if store_kib is None:
            parts.append(Verdict.NOT_MEASURED)
            continue
        small = READ_ONE_SMALL_KIB + 0.01 * store_kib
        parts.append(
            Verdict.HOLDS
            if grown <= small
            else Verdict.DOES_NOT_HOLD
            if grown >= READ_ONE_WHOLE_SHARE * store_kib
            else Verdict.INCONCLUSIVE
        )
        words.append(
            f"{name.upper()} {store[1]}: +{grown:,.0f} KiB resident for one image of a "
            f"{store_kib / 1024:,.1f} MiB store of {n:,}"
        )
        traces += [Cell.of(row.to_dict()).trace, _disk_trace(store, evidence.size, n)]
    return Finding(all_of(parts), "; ".join(words) or "no one-image reads", tuple(traces))


# --- The registry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One of the tutorial's claims: its words (a short paraphrase; quoted words in quotation
    marks), where the tutorial makes it, what measures it, the config that turns that on, the
    figure that shows it, and the rule that judges it."""

    number: int
    id: str
    words: str
    section: str
    experiment: str
    enable: str
    figure: str
    rule: Callable[[Evidence], Finding]


TUTORIAL_THREE = "`methods` with files, lmdb and hdf5, `implementations` with tutorial or fast"
CLAIMS: tuple[Claim, ...] = (
    Claim(
        1,
        "single_write",
        "Storing one image: LMDB is fastest and HDF5 slowest (tutorial: LMDB 1.2, PNG 1.9, "
        "HDF5 8.2 ms)",
        "Storing a Single Image",
        "single_image: one-image stores written one after another",
        TUTORIAL_THREE,
        "claims_verdicts",
        _single_write,
    ),
    Claim(
        2,
        "single_read",
        'Reading one image: PNG files slightly fastest, all three "trivially quick"',
        "Reading a Single Image",
        "single_image: each one-image store opened, read and closed",
        TUTORIAL_THREE,
        "claims_verdicts",
        _single_read,
    ),
    Claim(
        3,
        "many_png_slowest",
        "Many images: PNG files are by far the slowest to write and to read",
        "Storing Many Images; Reading Many Images",
        "build_store and read_store at the largest cutoff",
        TUTORIAL_THREE,
        "read_write_log",
        _many_png_slowest,
    ),
    Claim(
        4,
        "hdf5_overtakes_lmdb",
        "HDF5 starts slower than LMDB and overtakes it as N grows, for writes and reads",
        "Storing Many Images; Reading Many Images",
        "build_store and read_store at every cutoff",
        TUTORIAL_THREE + "; at least two `cutoffs`",
        "read_write_log",
        _hdf5_overtakes,
    ),
    Claim(
        5,
        "lmdb_most_disk",
        "LMDB uses the most disk space",
        "Considering Disk Usage",
        "disk_usage (du -sk) at the largest cutoff",
        TUTORIAL_THREE,
        "disk_usage_stacked",
        _lmdb_most_disk,
    ),
    Claim(
        6,
        "large_images_lmdb",
        'With larger images LMDB\'s disk use "shoots off the chart" (overflow pages); at '
        "256×256 HDF5 is slightly more compact than LMDB",
        "Considering Disk Usage",
        "disk_usage at several image sizes",
        "`image_sizes: [32, 256]` (config/sizes-targets.yaml)",
        "disk_by_size",
        _large_images,
    ),
    Claim(
        7,
        "lmdb_concurrent_readers",
        'Several processes read one LMDB at once: "ten processes divide the loading time by ten"',
        "Parallel Access",
        "read_store with 1, 2, 4 … reader processes",
        "`reads.readers` up to twice the cores and `reads.variations_for` naming LMDB's "
        "implementation",
        "readers_1_2",
        _concurrent_readers,
    ),
    Claim(
        8,
        "concurrent_writers",
        "PNG files allow complete write concurrency; LMDB lets one writer in at a time; HDF5 "
        "holds a write lock",
        "Parallel Access",
        "write_concurrent: W processes writing one store's parts at once",
        "`claims.concurrent_writers.enabled` with files, lmdb and hdf5 in `methods`",
        "claims_experiments",
        _concurrent_writers,
    ),
    Claim(
        9,
        "lmdb_key_order",
        "LMDB reads faster in key order than in random order",
        "A More Critical Look at Implementation",
        "read_store in order and in random batches",
        "`reads.order` with batched, `reads.variations_for` naming LMDB's implementation",
        "order_sequential_batched",
        _lmdb_key_order,
    ),
    Claim(
        10,
        "hdf5_range",
        "HDF5 reads a range (dataset[i:j]) faster than item by item (dataset[i] in a loop)",
        "A More Critical Look at Implementation",
        "read_store in order (one range) and one image per call",
        "`reads.order` with random, `reads.variations_for` naming HDF5's implementation",
        "order_sequential_random",
        _hdf5_range,
    ),
    Claim(
        11,
        "append",
        "Adding data later: LMDB's map_size makes it a hassle (MapFullError), HDF5 can grow",
        "A More Critical Look at Implementation",
        "append: 10% more images added to an existing store",
        "`claims.append.enabled` with lmdb and hdf5 in `methods`",
        "claims_experiments",
        _appends,
    ),
    Claim(
        12,
        "read_one_memory",
        "With LMDB or HDF5 only the requested item is read into memory",
        "Discussion",
        "read_one: a fresh process opens the largest store and reads one image",
        "`claims.read_one.enabled` with lmdb and hdf5 in `methods`",
        "claims_experiments",
        _read_one_memory,
    ),
)
BY_ID: dict[str, Claim] = {claim.id: claim for claim in CLAIMS}


def evaluate(evidence: Evidence) -> pd.DataFrame:
    """One row per claim (`cells.CLAIM_COLUMNS`): the verdict its rule gives, the figures behind
    it and the summary cells it used; for a claim not measured, the config that measures it."""
    rows = []
    for claim in CLAIMS:
        finding = claim.rule(evidence)
        rows.append(
            {
                "claim": claim.number,
                "id": claim.id,
                "tutorial_says": claim.words,
                "section": claim.section,
                "verdict": finding.verdict.value,
                "measured": finding.measured,
                "summary_cells": "; ".join(finding.cells),
                "figure": claim.figure,
                "experiment": claim.experiment,
                "to_measure": claim.enable if finding.verdict == Verdict.NOT_MEASURED else "",
                SIZE_COLUMN: evidence.size,
            }
        )
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


def experiment_rows(
    appends: Sequence[Mapping[str, object]], writers: Sequence[Mapping[str, object]]
) -> pd.DataFrame:
    """What each store needed to append, and how its concurrent writers fared, one row each."""
    rows = [{"experiment": "append", **record} for record in appends]
    rows += [{"experiment": "write_concurrent", **record} for record in writers]
    return pd.DataFrame(rows).reindex(columns=list(CLAIM_EXPERIMENT_COLUMNS))


def write_tables(
    summary: Path,
    disk: Path,
    appends: Sequence[Path],
    writers: Sequence[Path],
    cores: int,
    claims_table: Path,
    experiments_table: Path,
) -> pd.DataFrame:
    """The claims job: `claims.csv` and `claim_experiments.csv` from the run's tables and the
    experiments' records."""
    append_records = [json.loads(path.read_text()) for path in appends]
    writer_records = [
        outcome for path in writers for outcome in json.loads(path.read_text())["outcomes"]
    ]
    evidence = Evidence.of(
        upgrade_old_table(read_table(summary)),
        upgrade_old_table(read_table(disk)),
        append_records,
        writer_records,
        cores,
    )
    claims = evaluate(evidence)
    write_table(claims, claims_table)
    write_table(experiment_rows(append_records, writer_records), experiments_table)
    return claims
