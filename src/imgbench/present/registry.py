"""Every figure the pipeline draws, declared once: its name, the family module that draws it, the
report category it is shown under and its caption.

The workflow reads this when it is parsed (a figure job per name, the caption and category in
Snakemake's HTML report), so it imports nothing heavy. Each family module of `imgbench.present`
draws the figures that name it (`DRAWERS`). Every figure is written on every run, as PNG and
SVG: a figure whose data the run did not measure (no `tutorial` implementation, no raw baseline,
no cold-cache reads...) is written as a titled note saying what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

FILE_TYPES: tuple[str, ...] = ("png", "svg")
TUTORIAL = "1. Tutorial figures"
IMPLEMENTATIONS = "2. Implementations and baseline"
VARIATIONS = "3. Read variations"
DURABILITY = "4. Durable writes"
CODECS = "5. Codecs and containers"
LOADER = "6. Training loader"
SIZES = "7. Image sizes"
CLAIMS = "0. The tutorial's claims"
# The tables figures are drawn from, by name (the workflow says where each is): most figures use
# the summary and disk tables; the loader's use its own summary, made only when it runs.
MEASUREMENT_TABLES = ("summary", "disk")
LOADER_TABLES = ("loader_summary",)
CLAIMS_TABLES = ("claims",)
CLAIM_EXPERIMENT_TABLES = ("summary", "claim_experiments")
# Said by every read-variation caption: which stores have the varied cell.
VARIED_STORES = (
    " Only stores of the implementations config ``reads.variations_for`` names (by default "
    "``fast`` and the raw baseline) are read with the variation."
)


@dataclass(frozen=True)
class FigureSpec:
    name: str
    family: str  # the module of imgbench.present that draws it
    category: str  # where Snakemake's HTML report shows it
    caption: str  # reStructuredText, shown under it in the HTML report
    tables: tuple[str, ...] = MEASUREMENT_TABLES
    # Compares the run's image sizes: drawn once, and only by a run of several. Every other
    # figure is drawn per size, faceted, when a run has several (`drawing`).
    across_sizes: bool = False


FIGURES: tuple[FigureSpec, ...] = (
    # The tutorial's claims (`imgbench.claims`), checked at one image size.
    FigureSpec(
        "claims_verdicts",
        "claims",
        CLAIMS,
        "Every claim of the tutorial at a glance: its number and words, the figures this run "
        "measured with their 95% intervals, and the verdict (green: holds; red: does not hold; "
        "grey: inconclusive, the intervals overlap; pale: not measured). ``claims.csv`` names the "
        "rows of ``summary.csv`` each verdict rests on.",
        CLAIMS_TABLES,
    ),
    FigureSpec(
        "claims_experiments",
        "claims",
        CLAIMS,
        "The claims' own experiments, for every container. Left: one writer's time ÷ the time "
        "of W writer processes writing the same images together (hatched: the format let only "
        "one process write a store, so each wrote its own). Middle: the time to add 10% more "
        "images to a store (red: the format rewrote data already stored). Right: the resident "
        "memory a fresh process gained by reading one image of the largest store (opening it "
        "not counted). Medians; bars show 95% intervals where drawn.",
        CLAIM_EXPERIMENT_TABLES,
    ),
    # The seven figures of the Real Python tutorial, one series per (format, implementation), each
    # format in its own codec.
    FigureSpec(
        "store_time_linear",
        "tutorial",
        TUTORIAL,
        "Time to write all N images into a new store (buffered write, the tutorial's measure), "
        "against N, linear axes. One line per format and implementation; the band is the 95% "
        "interval of the median (see the summary table). Lower is better. The durable cost "
        "(write plus syncfs) is in *durability*.",
    ),
    FigureSpec(
        "store_time_log",
        "tutorial",
        TUTORIAL,
        "Time to write all N images into a new store (buffered write), against N, log-log axes, "
        "so the small cutoffs are readable. Lower is better; parallel lines mean the same cost per "
        "image. Bands are the 95% intervals of the medians.",
    ),
    FigureSpec(
        "read_time_linear",
        "tutorial",
        TUTORIAL,
        "Time to open a store, read all N images in order into one array with a warm page cache "
        "and one reader, and close it, against N, linear axes. Every read was checked bit for bit "
        "against the images written. Lower is better; bands are the 95% intervals of the medians.",
    ),
    FigureSpec(
        "read_time_log",
        "tutorial",
        TUTORIAL,
        "The reference read (warm cache, in order, one reader) against N, log-log axes. Lower is "
        "better; the raw baseline is the limit of this machine's memory and disk. Bands are the "
        "95% intervals of the medians.",
    ),
    FigureSpec(
        "read_write_linear",
        "tutorial",
        TUTORIAL,
        "Write time (left panel, buffered) and reference read time (right panel: warm cache, in "
        "order, one reader) against N on linear axes, as in the tutorial. Colour is the format, "
        "line style the implementation; bands are the 95% intervals of the medians. Lower is "
        "better.",
    ),
    FigureSpec(
        "read_write_log",
        "tutorial",
        TUTORIAL,
        "Write time (left panel, buffered) and reference read time (right panel) against N on "
        "log-log axes. Colour is the format, line style the implementation; bands are the 95% "
        "intervals of the medians. Lower is better.",
    ),
    FigureSpec(
        "disk_usage_stacked",
        "tutorial",
        TUTORIAL,
        "Disk space each store takes (``du -sk``, allocated, in MiB), one bar per format and "
        "implementation, stacked over the cutoffs as in the tutorial. Allocated space counts whole "
        "filesystem blocks, so one small file per image (PNG) costs more than its bytes; "
        "``results/tables/disk_usage.csv`` also gives the apparent size.",
    ),
    # Comparisons between implementations and with the raw baseline.
    FigureSpec(
        "throughput",
        "comparisons",
        IMPLEMENTATIONS,
        "Images per second at the median against N: reads (reference cell: warm cache, in order, "
        "one reader) and buffered writes, one panel per format and operation, line style telling "
        "the implementations apart; bands are the images per second at the ends of the median's "
        "95% interval. Higher is better; small cutoffs are dominated by opening a store.",
    ),
    FigureSpec(
        "speedup_fast_vs_tutorial",
        "comparisons",
        IMPLEMENTATIONS,
        "How many times faster the ``fast`` implementation is than the ``tutorial`` one at the "
        "largest cutoff (tutorial median time divided by fast median time), for reads in the "
        "reference cell and for buffered writes. Above 1 means the engineered code is faster. The "
        "benchmark report checks the read targets at 100,000 images and gives each ratio's 95% "
        "interval.",
    ),
    FigureSpec(
        "ratio_to_floor",
        "comparisons",
        IMPLEMENTATIONS,
        "Each store's reference read time divided by its floor's at the largest cutoff: for raw "
        "pixels the raw baseline (one contiguous array read with plain file I/O), for encoded "
        "images the decode floor of their codec (the same images decoded from memory on the same "
        "worker processes, no storage involved). 1 is the limit on this machine; the excess is "
        "the container's own overhead. The benchmark report gives each ratio's 95% interval.",
    ),
    FigureSpec(
        "read_heatmap",
        "comparisons",
        CODECS,
        "Images per second reading every image of a store in the reference cell (warm cache, in "
        "order, one reader) at the largest cutoff, for the ``fast`` implementation of each "
        "container (rows) holding each codec (columns); the last row is the floor of each codec "
        "(raw baseline, decode floors). A dash marks a pair this run did not measure "
        "(``config/full.yaml`` measures every pair).",
    ),
    FigureSpec(
        "disk_per_codec",
        "codecs",
        CODECS,
        "Allocated disk space per image (``du -sk`` ÷ N) at the largest cutoff, grouped by codec, "
        "a bar per container. Within a group the codec's bytes are the same, so the differences "
        "are the containers' overhead: tar's 512-byte headers and padding for two members per "
        "image, one filesystem block per file, B-tree pages.",
    ),
    # Read variations against the reference read cell.
    FigureSpec(
        "cache_warm_cold",
        "variations",
        VARIATIONS,
        "Images per second at the largest cutoff with a cold page cache (every file of the store "
        "written back and evicted with ``posix_fadvise(POSIX_FADV_DONTNEED)`` before each repeat, "
        "the eviction checked with ``mincore``) against warm, in order, one reader; labels give "
        "the ratio, error bars the 95% interval of each median." + VARIED_STORES,
    ),
    FigureSpec(
        "order_sequential_random",
        "variations",
        VARIATIONS,
        "Images per second at the largest cutoff reading a fixed-seed random permutation one "
        "image at a time through ``reader[i]``, as a training data loader does, against reading in "
        "order in bulk (warm cache, one reader); labels give the ratio, error bars the 95% "
        "interval of each median." + VARIED_STORES,
    ),
    FigureSpec(
        "order_sequential_batched",
        "variations",
        VARIATIONS,
        "Images per second at the largest cutoff reading the same fixed-seed random permutation "
        "in batches of ``reads.batch_size`` indices per bulk read, as a data loader's batch "
        "sampler asks for them, against reading in order in bulk (warm cache, one reader); "
        "labels give the ratio, error bars the 95% interval of each median. The report gives "
        "each batch's median and 99th-percentile read time." + VARIED_STORES,
    ),
    FigureSpec(
        "readers_1_2",
        "variations",
        VARIATIONS,
        "Images per second at the largest cutoff with several reader processes over disjoint "
        "slices (each opening the store itself after the fork; the clock covers opening, reading "
        "and closing, not forking) against one reader, warm cache, in order; labels give the "
        "ratio, error bars the 95% interval of each median. LevelDB is absent: one process at a "
        "time may open a database (its lock file); so are Lance and Zarr ``fast`` (TensorStore), "
        "whose libraries abort in a reader process forked after the parent used them, and "
        "TileDB, which may deadlock there." + VARIED_STORES,
    ),
    # The cost of durable writes.
    FigureSpec(
        "durability",
        "durability",
        DURABILITY,
        "Time to write each store at the largest cutoff and make it durable: the buffered write "
        "plus one ``syncfs`` of the store's filesystem, which makes every file and folder it wrote "
        "durable; labels give the total and the share spent in sync. The tutorial's LMDB syncs on "
        "commit by itself, other formats never do, so only the total compares them fairly.",
    ),
    # The training loader (config `loader`).
    FigureSpec(
        "loader_throughput",
        "loader",
        LOADER,
        "Images per second of whole epochs through PyTorch's DataLoader (batches of "
        "``loader.batch_size``), each store's ÷ the in-memory limit's (the same images as an "
        "array in memory, same sampler and worker count), one panel per sampler: ``shuffle`` a "
        "fresh permutation per epoch, ``block`` shuffled blocks of consecutive images, "
        "``sequential`` in order, ``stream`` a tar store's shards through a shuffle buffer. "
        "Solid bars without worker processes, hatched with them; stores whose library cannot be "
        "read in forked workers (LevelDB, Lance, TensorStore, TileDB) have no hatched bar. The "
        "limit rows are the other limits: the raw baseline memory-mapped and each codec's "
        "images encoded in memory.",
        LOADER_TABLES,
    ),
    FigureSpec(
        "loader_shuffle_tradeoff",
        "loader",
        LOADER,
        "What each sampler buys and costs: images per second (up is faster) against how far "
        "images move from their stored position in an epoch (mean distance ÷ N, right is better "
        "mixed; 1/3 is a uniform shuffle, 0 reading in order), one point per store and sampler "
        "without worker processes, a store's points joined. Block shuffling and shuffle buffers "
        "trade mixing for reading consecutive images.",
        LOADER_TABLES,
    ),
    FigureSpec(
        "loader_batch_latency",
        "loader",
        LOADER,
        "How long a training step waits for its batch: the median gap between consecutive "
        "batches (bar) and its 99th percentile (whisker), and the time to the first batch "
        "(triangle: creating the iterator, starting workers and opening the store), for the "
        "``shuffle`` sampler without and with worker processes (hatched). Log scale; lower is "
        "better.",
        LOADER_TABLES,
    ),
    # Image sizes (config `image_sizes`).
    FigureSpec(
        "disk_by_size",
        "sizes",
        SIZES,
        "Disk use (``du -sk``, allocated) ÷ the raw pixel bytes a store holds, against the image "
        "side, at the N every size measured (10,000 if it was): one line per container and codec, "
        "each in its first implementation. A format's own overhead shrinks as images grow unless "
        "it pads each image to pages or blocks; the tutorial expected LMDB's to grow with "
        "overflow pages. Claim 6 of the claims table is judged from these numbers.",
        across_sizes=True,
    ),
)
BY_NAME: dict[str, FigureSpec] = {spec.name: spec for spec in FIGURES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(spec.family for spec in FIGURES))
