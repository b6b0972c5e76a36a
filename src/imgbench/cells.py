"""The measurement vocabulary: what is measured, how a result is named, and the tables' columns.

Every module, rule and figure names operations, phases, read factors, series and columns through
this module, so a new axis (a codec, an image size) is added here once. It imports nothing heavy:
the workflow reads it when it is parsed.

The storage format (the container) of a row is in the column named `method`, the name the first
tables used; it is kept so that old tables and archives still compare (`python -m imgbench
compare`). Everywhere else a storage format is called a *format*. How each image's bytes are
encoded is the `codec` column (`imgbench.codecs`); tables from before codecs are read as the
tutorial's three (`upgrade_old_table`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


class Operation(StrEnum):
    """What a timing measures: all images of a store, or the tutorial's one-image store."""

    WRITE_MANY = "write_many"
    READ_MANY = "read_many"
    WRITE_SINGLE = "write_single"
    READ_SINGLE = "read_single"
    # The tutorial's claims (`imgbench.claims`): adding 10% more images to a store of `n_images`
    # (`images` is how many were added), `writers` processes writing one store's images together,
    # and a fresh process opening a store of `n_images` and reading one image (how much memory it
    # took: `rss_growth_kib`).
    APPEND = "append"
    WRITE_CONCURRENT = "write_concurrent"
    READ_ONE = "read_one"


class Phase(StrEnum):
    """Which part of an operation a row times: a buffered write, making it durable, a read."""

    WRITE = "write"
    SYNC = "sync"
    READ = "read"


class Cache(StrEnum):
    WARM = "warm"
    COLD = "cold"


class Order(StrEnum):
    """How a read walks the store: all images in index order in one bulk read, a fixed-seed
    permutation one image at a time (`reader[i]`, a data loader's `__getitem__`), or the same
    permutation in batches of `reads.batch_size` indices per bulk read (a batch sampler's)."""

    SEQUENTIAL = "sequential"
    RANDOM = "random"
    BATCHED = "batched"


def order_words(order: str) -> str:
    """How a report names a read order."""
    return {
        Order.SEQUENTIAL: "in order",
        Order.RANDOM: "random order, one image per call",
        Order.BATCHED: "random order in batches",
    }.get(order, str(order))


NOT_APPLICABLE = "n/a"  # a factor that does not apply to a row, e.g. the cache state of a write


@dataclass(frozen=True)
class ReadCell:
    """One way of reading a whole store: page-cache state, access order, reader processes.
    The defaults are the reference cell that every ratio uses."""

    cache: str = Cache.WARM
    order: str = Order.SEQUENTIAL
    readers: int = 1

    def factors(self) -> dict[str, object]:
        return {"cache": self.cache, "order": self.order, "readers": self.readers}

    def words(self) -> str:
        """The cell as titles and progress lines name it: 'warm cache, sequential, 1 reader'."""
        readers = "reader" if self.readers == 1 else "readers"
        return f"{self.cache} cache, {self.order}, {self.readers} {readers}"


REFERENCE_READ = ReadCell()
REFERENCE_READ_WORDS = REFERENCE_READ.words()


def read_factors(
    reads: Mapping[str, object],
    store_format: str,
    implementation: str,
    concurrent_readers: bool = True,
) -> dict[str, list[object]]:
    """The values of each read factor a store of `implementation` of `store_format` is read
    with: all configured ones if `reads.variations_for` names the implementation (for every
    format) or `format/implementation`, else only the reference cell's; one reader only for a
    store that one process at a time may open (`Store.concurrent_readers`).

    Variations of the tutorial's own code tell a user little that the `fast` implementation's do
    not, and at 100,000 PNG files they cost more than the rest of a run (config/README.md)."""
    named = reads["variations_for"]
    varied = implementation in named or f"{store_format}/{implementation}" in named  # type: ignore[operator]
    factors = {
        factor: list(reads[factor]) if varied else [reference]  # type: ignore[call-overload]
        for factor, reference in REFERENCE_READ.factors().items()
    }
    if not concurrent_readers:
        factors["readers"] = [REFERENCE_READ.readers]
    return factors


def read_cells(
    caches: Iterable[str], orders: Iterable[str], readers: Iterable[int]
) -> list[ReadCell]:
    """The reference cell, then one cell per other value of each factor (one factor at a time).

    Crossing every factor would multiply the slowest reads (PNG at 100,000 images) for little
    insight; varying one at a time isolates each effect against the same reference.
    """
    reference = REFERENCE_READ
    cells = [reference]
    cells += [ReadCell(cache=cache) for cache in caches if cache != reference.cache]
    cells += [ReadCell(order=order) for order in orders if order != reference.order]
    cells += [ReadCell(readers=count) for count in readers if count != reference.readers]
    return cells


# --- Series: which store a result belongs to ------------------------------------------------------

BASELINE_FORMAT = "raw"  # the physical baseline, measured when config `baseline` is true
BASELINE = "baseline"  # its only implementation, and that of the decode floors
RAW_CODEC = "raw"  # the codec of raw pixels, whose floor is the raw baseline
# The decode floor of an encoded codec: its images decoded from memory, no storage involved.
FLOOR_FORMAT = "floor"
DEFAULT_RANK = 50  # formats without a rank follow the tutorial's three, by name
BASELINE_RANK = 100  # the baseline comes last


@dataclass(frozen=True)
class Presentation:
    """How a format is shown in tables, legends and figures; a format module's `PRESENTATION`.

    Every field has a default, so a new format needs none: its name as label, a spare colour,
    its implementation's marker, a place after the built-in formats.
    """

    label: str | None = None  # display name, e.g. "HDF5"; default: the format's name
    colour: str | None = None  # a matplotlib colour, fixed in every figure and run
    line_marker: str | None = None  # a matplotlib marker replacing the implementation's
    rank: int = DEFAULT_RANK  # position among formats: the tutorial's order is 10, 20, 30
    # The codec a format is drawn in where a figure shows one per format (the tutorial's
    # figures); `imgbench.stores.presentation` fills in the format's default.
    codec: str | None = None

    def label_for(self, name: str) -> str:
        """The display name of the format called `name`."""
        return self.label or name


@dataclass(frozen=True)
class Series:
    """One measured store kind: a format in one implementation, holding one codec. Compared by
    name only; the presentation says how it is labelled and sorted."""

    format: str
    implementation: str
    codec: str = RAW_CODEC
    presentation: Presentation = field(default=Presentation(), compare=False)

    @property
    def format_label(self) -> str:
        return self.presentation.label_for(self.format)

    @classmethod
    def of(
        cls, name: str, implementation: str, codec: str, presentations: Mapping[str, Presentation]
    ) -> Series:
        """The series of format `name`, shown as `presentations` says (defaults if it is not
        there: a table may hold a format that has no module any more)."""
        return cls(name, implementation, codec, presentations.get(name, Presentation()))

    @property
    def store_label(self) -> str:
        """Container and codec: "files+png", "LMDB+raw"; the raw baseline is "raw" and a decode
        floor "png floor"."""
        if self.format == FLOOR_FORMAT:
            return f"{self.codec} {self.format_label}"
        if self.format == BASELINE_FORMAT:
            return self.format_label
        return f"{self.format_label}+{self.codec}"

    def label(self, separator: str = " ") -> str:
        """ "files+png tutorial", "LMDB+raw fast"...; a baseline is named without its
        implementation ("raw", "png floor")."""
        if self.implementation == BASELINE:
            return self.store_label
        return f"{self.store_label}{separator}{self.implementation}"

    @property
    def key(self) -> tuple[str, str, str]:
        """The values of `SERIES_KEYS` naming this series in a table."""
        return self.format, self.implementation, self.codec

    def rank(self) -> tuple[tuple[int, str], tuple[int, str], tuple[int, str]]:
        return (
            format_rank(self.format, self.presentation),
            codec_rank(self.codec),
            implementation_rank(self.implementation),
        )


FLOOR_PRESENTATION = Presentation(label="decode floor", colour="dimgray", rank=BASELINE_RANK + 1)


def floor_series(codec: str) -> Series:
    """What a store holding `codec` is compared with: the raw baseline for raw pixels, the codec's
    decode floor for encoded images."""
    if codec == RAW_CODEC:
        return Series(BASELINE_FORMAT, BASELINE, RAW_CODEC)
    return Series(FLOOR_FORMAT, BASELINE, codec)


def presentations_from(values: Mapping[str, Mapping[str, object]]) -> dict[str, Presentation]:
    """Presentations passed to a job as plain values (a rule's params), by format name."""
    return {name: Presentation(**fields) for name, fields in values.items()}  # type: ignore[arg-type]


def format_rank(name: str, presentation: Presentation) -> tuple[int, str]:
    return presentation.rank, name


IMPLEMENTATION_RANKS = {"tutorial": 0, "fast": 1, BASELINE: 3}  # any other implementation: 2
CODEC_RANKS = {RAW_CODEC: 0, "png": 1, "qoi": 2, "jpeg": 3, "zstd": 4}


def codec_rank(codec: str) -> tuple[int, str]:
    return CODEC_RANKS.get(codec, len(CODEC_RANKS)), codec


def implementation_rank(implementation: str) -> tuple[int, str]:
    """The tutorial's code first, then `fast`, other implementations by name, the baseline last."""
    if implementation in IMPLEMENTATION_RANKS:
        return IMPLEMENTATION_RANKS[implementation], ""
    return 2, implementation


# --- Table columns --------------------------------------------------------------------------------

FORMAT_COLUMN = "method"  # see the module docstring
CODEC_COLUMN = "codec"
SERIES_KEYS = (FORMAT_COLUMN, "implementation", CODEC_COLUMN)
# The side, in pixels, of the square images a row measured (config `image_sizes`): every table
# and figure exists per size, and the tutorial's CIFAR-10 images are 32.
SIZE_COLUMN = "image_size"
TUTORIAL_IMAGE_SIZE = 32
# What one measured cell is; its repeats and samples are summarised together.
SUMMARY_KEYS = (
    *SERIES_KEYS,
    SIZE_COLUMN,
    "n_images",
    "operation",
    "phase",
    "cache",
    "order",
    "readers",
    "writers",  # processes writing one store at once; 1 for every operation but write_concurrent
)
TIMING_COLUMNS = (
    *SUMMARY_KEYS,
    "repeat",
    "sample",
    "images",
    "seconds",
    "resident_fraction",
    "memory_returned_kib",  # memory the VM's host took back during the timed region, if it can
    "rss_growth_kib",  # read_one: how much the process's resident memory grew by the read
    "batch_p50_seconds",  # batched reads: the median and 99th percentile of one batch's read
    "batch_p99_seconds",
    "host",  # the machine that measured the row: on a cluster, jobs may run on several
    "filesystem",  # type of the filesystem the store was on (`stores.folder` moves it)
)
SUMMARY_COLUMNS = (
    *SUMMARY_KEYS,
    "samples",
    "images",
    "seconds_median",
    "seconds_ci_low",  # 95% interval of the median (see `imgbench.confidence`)
    "seconds_ci_high",
    "ci_coverage",  # the interval's true coverage: below 0.95 with fewer than six samples
    "ci_half_width",  # the interval's larger side ÷ the median
    "seconds_min",
    "seconds_max",
    "seconds_p90",
    "images_per_second",  # images / median seconds
    "resident_fraction_max",
    "batch_p50_seconds",  # batched reads: medians over the repeats of each repeat's percentile
    "batch_p99_seconds",
    "rss_growth_kib_median",  # read_one: the median over the fresh processes
)
DISK_KEYS = (*SERIES_KEYS, SIZE_COLUMN, "n_images")
DISK_COLUMNS = (*DISK_KEYS, "kib_allocated", "kib_apparent", "sha256")


# --- The training loader (`imgbench.loader`) ---------------------------------------------------


class Sampler(StrEnum):
    """The order a loader visits a store in, each epoch: a fresh full permutation, shuffled
    blocks of consecutive images (`imgbench.samplers`), index order, or a tar store's shards
    streamed in shuffled order through a shuffle buffer (`imgbench.torch.ShardStream`)."""

    SHUFFLE = "shuffle"
    BLOCK = "block"
    SEQUENTIAL = "sequential"
    STREAM = "stream"


# The loader's physical limits: the same loader over the pool as an array in memory, and over the
# raw baseline's images.npy memory-mapped. Rows name them as format `limit`, codec raw.
LIMIT_FORMAT = "limit"
LIMIT_PRESENTATION = Presentation(label="limit", colour="silver", rank=BASELINE_RANK + 2)
LOADER_KEYS = (*SERIES_KEYS, SIZE_COLUMN, "n_images", "sampler", "workers", "batch_size")
UNIFORM_DISPLACEMENT = 1 / 3  # a uniform shuffle's mean |epoch position - stored index| ÷ N
LOADER_MEASURES = (
    "first_batch_seconds",  # from asking for the epoch's iterator to the first batch
    "batch_p50_seconds",  # between consecutive batches, after the first
    "batch_p99_seconds",
    "peak_memory_mib",  # the whole process tree's proportional set size, at its highest
    "distinct_labels",  # per batch, mean over the epoch's full batches
    "distinct_labels_ideal",  # expected of a batch drawn uniformly at random from the store
    "displacement",  # mean |position in the epoch - stored index| / N; 1/3 for a permutation
)
LOADER_COLUMNS = (*LOADER_KEYS, "epoch", "images", "seconds", *LOADER_MEASURES, "host")
LOADER_SUMMARY_COLUMNS = (
    *LOADER_KEYS,
    "epochs",
    "images",
    "seconds_median",
    "seconds_ci_low",
    "seconds_ci_high",
    "images_per_second",  # images / median seconds of an epoch
    *LOADER_MEASURES,  # medians over the epochs; peak memory is the highest
)

# --- The tutorial's claims (`imgbench.claims`) ----------------------------------------------

CLAIM_COLUMNS = (
    "claim",  # its number, in the order of the tutorial
    "id",
    "tutorial_says",
    "section",  # where in the tutorial
    "verdict",  # holds, does not hold, inconclusive, not measured
    "measured",  # the figures the verdict rests on, with their 95% intervals
    "summary_cells",  # the rows of summary.csv (and disk_usage.csv) it used, "; "-separated
    "figure",
    "experiment",
    "to_measure",  # for a claim not measured: the config that measures it
    SIZE_COLUMN,  # the image size it was checked at
)


def claims_size(sizes: Iterable[int]) -> int:
    """The image size the tutorial's claims are checked at, and their experiments run at: the
    tutorial's 32 px if the run measures it, else its smallest."""
    sizes = list(sizes)
    return TUTORIAL_IMAGE_SIZE if TUTORIAL_IMAGE_SIZE in sizes else min(sizes)


# What each store needed to take 10% more images, and how its concurrent writers fared.
CLAIM_EXPERIMENT_COLUMNS = (
    "experiment",  # append or write_concurrent
    *SERIES_KEYS,
    SIZE_COLUMN,
    "n_images",
    "images",  # append: the images added
    "needed",  # append: what the format needed, in words
    "map_full",  # append: the store's map filled up and had to be enlarged (LMDB)
    "rewrite",  # append: data already stored had to be written again
    "writers",
    "shared",  # write_concurrent: whether the writers could write one store at once
    "refusal",  # ...if not, the library's error
    "lock_wait_share",  # the longest a writer waited for the store's write lock ÷ the wall time
)

RUN_ID_COLUMN = "run_id"  # first column of every aggregated table
# Columns that hold numbers; all others are names, "n/a" included.
NUMERIC_COLUMNS = frozenset(
    {
        SIZE_COLUMN,
        "n_images",
        "readers",
        "writers",
        "repeat",
        "sample",
        "images",
        "seconds",
        "resident_fraction",
    }
    | {"memory_returned_kib", "rss_growth_kib", "rss_growth_kib_median"}
    | {"samples", "seconds_median", "seconds_min", "seconds_max", "seconds_p90"}
    | {"seconds_ci_low", "seconds_ci_high", "ci_coverage", "ci_half_width"}
    | {"images_per_second", "resident_fraction_max", "kib_allocated", "kib_apparent"}
    | {"batch_p50_seconds", "batch_p99_seconds"}
    | {"workers", "batch_size", "epoch", "epochs", *LOADER_MEASURES}
)


# --- Selectors over the summary table (figures and the report) ------------------------------------


def writes(summary: pd.DataFrame, phase: str = Phase.WRITE) -> pd.DataFrame:
    """Whole-store writes: buffered (`write`, the reference write cell) or making them durable
    (`sync`)."""
    return summary[(summary["operation"] == Operation.WRITE_MANY) & (summary["phase"] == phase)]


def reads(summary: pd.DataFrame, **factors: object) -> pd.DataFrame:
    """Whole-store reads in the reference cell, or in the cell with `factors` changed."""
    cell = REFERENCE_READ.factors() | factors
    mask = (summary["operation"] == Operation.READ_MANY) & (summary["phase"] == Phase.READ)
    for factor, value in cell.items():
        mask &= summary[factor] == value
    return summary[mask]


def all_reads(summary: pd.DataFrame) -> pd.DataFrame:
    """Whole-store reads in every cell."""
    return summary[summary["operation"] == Operation.READ_MANY]


def single_image(summary: pd.DataFrame) -> pd.DataFrame:
    """The tutorial's one-image writes and reads."""
    return summary[summary["operation"].isin([Operation.WRITE_SINGLE, Operation.READ_SINGLE])]


def of_series(frame: pd.DataFrame, series: Series) -> pd.DataFrame:
    """The rows of one series, by N."""
    chosen = frame[
        (frame[FORMAT_COLUMN] == series.format)
        & (frame["implementation"] == series.implementation)
        & (frame[CODEC_COLUMN] == series.codec)
    ]
    return chosen.sort_values("n_images")


def image_sizes(*frames: pd.DataFrame) -> list[int]:
    """The image sizes measured in `frames`, smallest first."""
    return sorted({int(side) for frame in frames for side in frame.get(SIZE_COLUMN, [])})


def of_image_size(frame: pd.DataFrame, side: int) -> pd.DataFrame:
    """The rows of `frame` measured on images of `side` px."""
    return frame[frame[SIZE_COLUMN] == side]


def cell_key(row: Mapping[str, object]) -> tuple[object, ...]:
    """The values of `SUMMARY_KEYS` naming the cell a summary or timing row belongs to."""
    return tuple(row[key] for key in SUMMARY_KEYS)


def series_keys(*frames: pd.DataFrame) -> set[tuple[str, str, str]]:
    """The (format, implementation, codec) triples present in `frames`."""
    return {
        key
        for frame in frames
        for key in zip(
            frame[FORMAT_COLUMN], frame["implementation"], frame[CODEC_COLUMN], strict=True
        )
    }


# The tutorial's three formats as tables from before codecs named them: (format, codec) now.
OLD_FORMATS = {"png": ("files", "png"), "lmdb": ("lmdb", RAW_CODEC), "hdf5": ("hdf5", RAW_CODEC)}


def upgrade_old_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A table written before the codec or size axes, with the columns a current one has: `png`
    becomes the files container with the png codec, every other store holds raw pixels, and
    every image is the tutorial's 32 px, written by one process at a time."""
    if FORMAT_COLUMN not in frame.columns:
        return frame
    upgraded = frame
    if CODEC_COLUMN not in frame.columns:
        names = [OLD_FORMATS.get(name, (name, RAW_CODEC)) for name in frame[FORMAT_COLUMN]]
        upgraded = frame.assign(**{FORMAT_COLUMN: [name for name, _ in names]})
        position = list(frame.columns).index("implementation") + 1
        upgraded.insert(position, CODEC_COLUMN, [codec for _, codec in names])
    if SIZE_COLUMN not in upgraded.columns and "n_images" in upgraded.columns:
        upgraded = upgraded.copy()
        position = list(upgraded.columns).index("n_images")
        upgraded.insert(position, SIZE_COLUMN, TUTORIAL_IMAGE_SIZE)
    # Columns added since, each after the column it follows, where the table has that column.
    for column, after, filler in (
        ("writers", "readers", 1),
        ("rss_growth_kib", "memory_returned_kib", float("nan")),
        ("rss_growth_kib_median", "batch_p99_seconds", float("nan")),
    ):
        if after in upgraded.columns and column not in upgraded.columns:
            if column == "rss_growth_kib_median" and "seconds_median" not in upgraded.columns:
                continue  # a timings table: its batch percentiles are per repeat
            upgraded = upgraded.copy()
            upgraded.insert(list(upgraded.columns).index(after) + 1, column, filler)
    return upgraded
