# Config validation, what is measured, and the input functions shared by every stage.
import json
import math
import os
from functools import cache
from pathlib import Path

from snakemake.utils import validate

from imgbench import (
    code_tracking,
    discards,
    image_folder,
    machine,
    pool_sources,
    stores,
    thread_pools,
)
from imgbench.cifar import training_images
from imgbench.cells import (
    BASELINE,
    FLOOR_FORMAT,
    LIMIT_FORMAT,
    RAW_CODEC,
    TUTORIAL_IMAGE_SIZE,
    Operation,
    claims_size,
    codec_rank,
    read_factors,
)
from imgbench.config_checks import (
    append_plan,
    check_cutoffs_fit,
    check_dataset,
    check_free_space,
    check_loader,
    check_repeats,
    check_stores_folder,
    check_variations_for,
    decode_floors,
    loaded_stores,
    loader_images,
    measured_stores,
    pixel_bytes,
    size_cutoffs,
    writer_stores,
)
from imgbench.present import registry

validate(config, schema="../schemas/config.schema.yaml")
DATASET = config["dataset"]
# A folder of the user's images is the dataset (`imgbench.image_folder`): listed, not decoded,
# when the workflow is parsed; its fingerprint (names, sizes, mtimes) reruns the pools it changes.
check_dataset(DATASET)
FOLDER = (
    image_folder.scan(
        Path(DATASET["folder"]), DATASET["labels_csv"] and Path(DATASET["labels_csv"])
    )
    if DATASET["source"] == "folder"
    else None
)
FOLDER_FINGERPRINT = image_folder.fingerprint(FOLDER) if FOLDER else None
AVAILABLE_IMAGES = len(FOLDER.entries) if FOLDER else training_images(DATASET)
check_cutoffs_fit(config, AVAILABLE_IMAGES)
check_stores_folder(config["stores"])
check_repeats(config["repeats"])
check_variations_for(config)
check_loader(config)

READS = config["reads"]
# Every image size measured, and the cutoffs at each (those `stores.max_gb` lets through).
SIZES = config["image_sizes"]
SIZE_CUTOFFS = size_cutoffs(config)
STORES_FOLDER = config["stores"]["folder"]
STORE_DIR = os.path.join(
    STORES_FOLDER, "{format}/{implementation}/{codec}/{size}px/{n}"
)
POOL = "results/dataset/{size}px/pool.npz"
POOL_RECORD = "results/dataset/{size}px/pool.json"
# A store is read, then measured with du, right after its build job rather than after every other
# build: pages unused for a minute leave the page cache on machines that reclaim proactively, and
# reading a store back into the cache before its warm reads costs time (docs/measurement.md).
READ_PRIORITY = 2
DISK_USAGE_PRIORITY = 1
# Where timing jobs set aside the repeats they no longer need, deleted after the last timing job
# (`imgbench.discards`); node-local stores are deleted at once, on the node that wrote them.
DISCARDED = discards.folder_for(config["stores"])
# Every (format, implementation, codec) measured; `methods` is the config's name for the formats.
STORES = measured_stores(config)
FORMATS = list(dict.fromkeys(name for name, _, _ in STORES))
# The encoded codecs whose decode floor is measured beside the raw baseline.
FLOORS = decode_floors(STORES, config["baseline"])
# The stores the loader experiment reads, how many images, and the encoded codecs whose limit
# (their images encoded in memory) it measures beside the raw ones.
LOADER_STORES = loaded_stores(STORES, config["loader"])
# At each size, the largest of its cutoffs up to `loader.n`.
LOADER_N = {size: loader_images(config, SIZE_CUTOFFS[size]) for size in SIZES}
LOADER_CODECS = sorted(
    {codec for _, _, codec in LOADER_STORES if codec != RAW_CODEC}, key=codec_rank
)
# Only a JPEG limit depends on the JPEG quality.
LOADER_JPEG_QUALITY = config["jpeg_quality"] if "jpeg" in LOADER_CODECS else None
# What a loader job uses; `enabled`, `n` and `implementations` only choose which jobs exist.
LOADER_SETTINGS = {
    key: value
    for key, value in config["loader"].items()
    if key not in {"enabled", "n", "implementations"}
}
# The tutorial's claims are checked at one size (`imgbench.claims`): there, every store takes
# 10% more images, W processes write a store together, and a fresh process reads one image of
# each store of the largest cutoff.
CLAIMS = config["claims"]
CLAIM_SIZE = claims_size(SIZES)
CLAIM_N = max(SIZE_CUTOFFS[CLAIM_SIZE])
WRITER_STORES = writer_stores(STORES, CLAIMS["concurrent_writers"])
WRITERS_N = min(CLAIMS["concurrent_writers"]["n"], CLAIM_N)
# How each measured format is shown: a figure or the report redraws when one changes.
PRESENTATIONS = stores.presentations(
    FORMATS
    + ([FLOOR_FORMAT] if FLOORS else [])
    + ([LIMIT_FORMAT] if LOADER_STORES else [])
)


wildcard_constraints:
    format="[a-z][a-z0-9_]*",
    implementation="[a-z][a-z0-9_]*",
    codec="[a-z][a-z0-9_]*",
    n=r"[1-9][0-9]*",
    size=r"[1-9][0-9]*",
    figure="|".join(registry.NAMES),


SOURCE = Path(workflow.basedir) / "src"
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"


def tracked_code(script, *modules):
    """The files a job runs: its script and the library modules it imports, directly or not,
    plus those of `modules` (dotted names the job picks at run time). Editing one reruns the job;
    editing anything else does not."""
    return list(_tracked_code(script, modules))


@cache
def _tracked_code(script, modules):
    path = SCRIPTS / script
    return (str(path), *map(str, code_tracking.closure(SOURCE, [path], modules)))


def read_factor(factor):
    """A read job's values of one read factor: every configured one, or only the reference
    cell's for an implementation `reads.variations_for` leaves out (and one reader for a format
    that one process at a time may open)."""

    def values(wildcards):
        store = stores.get_store(wildcards.format, wildcards.implementation)
        return read_factors(
            READS, wildcards.format, wildcards.implementation, store.concurrent_readers
        )[factor]

    return values


def jpeg_quality(wildcards):
    """The JPEG quality of a job's codec: only the JPEG codec has one, so no other store reruns
    when it changes."""
    return config["jpeg_quality"] if wildcards.codec == "jpeg" else None


def store_params():
    """What a store job needs to build the store of its wildcards: the codec's settings and the
    format's options."""

    def params(wildcards):
        options = config["store_options"].get(wildcards.format, {})
        return {"jpeg_quality": jpeg_quality(wildcards), "options": options}

    return params


def project_of_script(wildcards, input):
    """The project a job's script (its first code input) belongs to: where git and the workflow's
    files say which code ran."""
    return str(Path(input.code[0]).parents[2])


def store_code(script):
    """A store job's code: its script's imports and its format's module."""

    def code(wildcards):
        return tracked_code(script, f"imgbench.stores.{wildcards.format}")

    return code


def report_sources():
    """The workflow's own files the HTML report is made from: rules, captions, description."""
    folder = Path(workflow.basedir) / "workflow"
    sources = [
        workflow.main_snakefile,
        *folder.glob("rules/*.smk"),
        *folder.glob("report/*.rst"),
    ]
    return sorted(map(str, sources))


def figure_code(wildcards):
    """A figure job's code: the shared drawing code and the module of the figure's family."""
    family = registry.BY_NAME[wildcards.figure].family
    return tracked_code("figure.py", f"imgbench.present.{family}")


# Jobs that only move or summarise small files run where Snakemake runs, never on a cluster node.
localrules:
    all,
    fetch_cifar,
    synthesize_cifar,
    provenance,
    aggregate,
    figure,
    benchmark_report,
    html_report,
    pack_result_archive,
    archive,
    delete_discarded,
    claims,


def store_output():
    """A store as its build job's output. In a node-local folder it is temporary and grouped with
    the jobs that read and measure it, so a cluster runs the three as one job on one node and
    Snakemake never looks for the store from the submitting machine."""
    store_dir = directory(STORE_DIR)
    return (
        temp(store_dir, group_jobs=True)
        if config["stores"]["node_local"]
        else store_dir
    )


def store_mem_mb(copies):
    """Memory a store job needs: the image pool plus `copies` arrays of its N images (source,
    read-back, shared memory for reader processes, a format's own buffers), and 512 MB for
    Python and the libraries. `copies` covers the peaks Snakemake's `benchmark:` files measured
    at 100,000 images: writes up to 1.1 GB (PNG and LMDB fast), reads up to 2.9 GB (PNG
    tutorial, whose list of decoded images is stacked into one array).
    """

    def mem_mb(wildcards):
        size, n = int(wildcards.size), int(wildcards.n)
        images = pool_images(size) + copies * n
        return 512 + math.ceil(pixel_bytes(size, images) / 2**20)

    return mem_mb


def pool_images(size):
    """The images the pool of one size holds (`imgbench.pool_sources.pool_images`)."""
    return pool_sources.pool_images(
        DATASET["source"],
        size,
        AVAILABLE_IMAGES,
        max(SIZE_CUTOFFS[size]),
        TUTORIAL_IMAGE_SIZE,
    )


def pool_recipe(wildcards):
    """How the pool of one size is made (`imgbench.pool_sources.recipe`)."""
    size = int(wildcards.size)
    return pool_sources.recipe(
        DATASET, size, pool_images(size), FOLDER_FINGERPRINT, TUTORIAL_IMAGE_SIZE
    )


def pool_inputs(wildcards):
    """The files a pool is made from: the archive's batches, or the 32 px pool it resizes."""
    files = {
        "archive": {"batches": "results/dataset/cifar-10-batches-py"},
        "resized": {"source_pool": POOL.format(size=TUTORIAL_IMAGE_SIZE)},
    }
    return files.get(pool_recipe(wildcards)["source"], {})


def pool_records():
    """How each size's pool was made: the provenance record keeps them."""
    return expand(POOL_RECORD, size=SIZES)


def store_runtime_minutes(wildcards):
    """A scheduler's time limit for one store job: ample for PNG at 100,000 images (~5 min)."""
    return 10 + int(wildcards.n) // 2000


def archive_files():
    """The verified archive and its checksum, unless the dataset is the user's folder."""
    if DATASET["source"] == "folder":
        return {}
    folder = cifar_folder()
    return {
        "archive": f"{folder}/cifar-10-python.tar.gz",
        "checksum": f"{folder}/cifar-10-python.tar.gz.md5",
    }


def cifar_folder():
    """Where the CIFAR archive the rest of the pipeline uses comes from."""
    source = "synthetic" if DATASET["source"] == "synthetic" else "download"
    return f"results/dataset/{source}"


def users_cifar_archive():
    """The user's own copy of the CIFAR archive, if `dataset.archive` names one."""
    return [DATASET["archive"]] if DATASET.get("archive") else []


def per_size(pattern, **wildcards):
    """`pattern` at every image size and each of that size's cutoffs, expanded over
    `wildcards`."""
    paths = [
        path
        for size in SIZES
        for path in expand(pattern, size=size, n=SIZE_CUTOFFS[size], **wildcards)
    ]
    return list(dict.fromkeys(paths))


def per_store(pattern, **wildcards):
    """`pattern` for every measured (format, implementation, codec) at every size and cutoff,
    expanded over `wildcards`."""
    return [
        path
        for name, implementation, codec in STORES
        for path in per_size(
            pattern,
            format=name,
            implementation=implementation,
            codec=codec,
            **wildcards,
        )
    ]


def floor_tables():
    return per_size(
        "results/measurements/floor/{codec}/{size}px/{n}/read_many.csv", codec=FLOORS
    )


def codec_records():
    """Each measured encoded codec's bytes per image and error, at each size's largest
    cutoff."""
    return [
        f"results/measurements/floor/{codec}/{size}px/{max(SIZE_CUTOFFS[size])}/quality.json"
        for size in SIZES
        for codec in FLOORS
    ]


def timing_tables():
    per_cutoff = per_store(
        "results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/{operation}.csv",
        operation=[Operation.WRITE_MANY, Operation.READ_MANY],
    )
    single = per_store(
        "results/measurements/{format}/{implementation}/{codec}/{size}px/single.csv"
    )
    return per_cutoff + single + floor_tables() + claim_tables()


def job_time_files():
    """Snakemake's benchmark file of every measuring job: the report says where time went."""
    per_cutoff = per_store(
        "results/benchmarks/{job}/{format}/{implementation}/{codec}/{size}px/{n}.tsv",
        job=["build_store", "read_store", "disk_usage"],
    )
    single = per_store(
        "results/benchmarks/single_image/{format}/{implementation}/{codec}/{size}px.tsv"
    )
    floors = per_size(
        "results/benchmarks/decode_floor/{codec}/{size}px/{n}.tsv", codec=FLOORS
    )
    loaders = loaded(
        "results/benchmarks/loader/{format}/{implementation}/{codec}/{size}px/{n}.tsv",
        "results/benchmarks/loader_limits/{size}px/{n}.tsv",
    )
    claims = claim_experiments(
        "results/benchmarks/{experiment}/{format}/{implementation}/{codec}/{size}px/{n}.tsv",
        "append",
    )
    claims += claim_experiments(
        "results/benchmarks/{experiment}/{format}/{implementation}/{codec}/{size}px/{n}.tsv",
        "write_concurrent",
    )
    claims += claim_experiments(
        "results/benchmarks/{experiment}/{format}/{implementation}/{codec}/{size}px/{n}.tsv",
        "read_one",
    )
    return per_cutoff + single + floors + loaders + claims


def loaded(per_store_pattern, limits_pattern):
    """`per_store_pattern` for each loaded store and `limits_pattern` once, at every size and
    that size's loader N; nothing if the loader does not run."""
    if not LOADER_STORES:
        return []
    return [
        path
        for size in SIZES
        for path in [
            per_store_pattern.format(
                format=name,
                implementation=implementation,
                codec=codec,
                size=size,
                n=LOADER_N[size],
            )
            for name, implementation, codec in LOADER_STORES
        ]
        + [limits_pattern.format(size=size, n=LOADER_N[size])]
    ]


def loader_tables():
    """The loader experiment's tables: one per loaded store, and the limits', per size."""
    return loaded(
        "results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/loader.csv",
        "results/measurements/limit/{size}px/{n}/loader.csv",
    )


def loader_report_tables():
    """The loader's epochs and summary, for the benchmark report, if it runs."""
    if not LOADER_STORES:
        return []
    return ["results/tables/loader.csv", "results/tables/loader_summary.csv"]


def raw_store_for_limits(wildcards):
    """The raw baseline's store at the loader's N, memory-mapped as a limit, if it is built."""
    if not config["baseline"]:
        return []
    return STORE_DIR.format(
        format="raw",
        implementation="baseline",
        codec="raw",
        size=wildcards.size,
        n=wildcards.n,
    )


def loader_mem_mb(wildcards):
    """The pool, the images the loader must return, the batches of an epoch kept to check them,
    a limit's copy in memory, and the workers' shared batches; 1 GB for Python and torch.
    """
    size, n = int(wildcards.size), int(wildcards.n)
    return 1024 + math.ceil(pixel_bytes(size, pool_images(size) + 6 * n) / 2**20)


def append_n():
    """The append experiment's store size and the images it adds, at the claims' size."""
    return append_plan(CLAIMS["append"], CLAIM_N, pool_images(CLAIM_SIZE))


def claim_experiments(pattern, experiment):
    """`pattern` for each store an experiment of the claims runs on, at its N; nothing if the
    config turns it off."""
    plans = {
        "append": (STORES, append_n()[0]),
        "write_concurrent": (WRITER_STORES, WRITERS_N),
        "read_one": (STORES, CLAIM_N),
    }
    settings = {"append": "append", "write_concurrent": "concurrent_writers"}
    if not CLAIMS[settings.get(experiment, experiment)]["enabled"]:
        return []
    chosen, n = plans[experiment]
    return [
        pattern.format(
            format=name,
            implementation=implementation,
            codec=codec,
            size=CLAIM_SIZE,
            n=n,
            experiment=experiment,
        )
        for name, implementation, codec in chosen
    ]


def claim_tables():
    """The timing tables of the claims' experiments."""
    pattern = "results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/{experiment}.csv"
    return [
        path
        for experiment in ("append", "write_concurrent", "read_one")
        for path in claim_experiments(pattern, experiment)
    ]


def claim_records(experiment):
    """What the append or concurrent-writers experiment recorded for each store."""
    return claim_experiments(
        "results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/{experiment}.json",
        experiment,
    )


def disk_tables():
    return per_store(
        "results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/disk_usage.csv"
    )


def planned_stores():
    """Every store this run keeps, as path -> (image size, images): what the free-space check
    counts (node-local stores are deleted on their node as soon as they are measured).
    """
    if config["stores"]["node_local"]:
        return {}
    return {
        Path(
            STORE_DIR.format(
                format=name, implementation=implementation, codec=codec, size=size, n=n
            )
        ): (size, n)
        for name, implementation, codec in STORES
        for size in SIZES
        for n in SIZE_CUTOFFS[size]
    }


check_free_space(
    Path(STORES_FOLDER),
    planned_stores(),
    {Path(POOL.format(size=size)): (size, pool_images(size)) for size in SIZES},
)


# Known before any job runs; as params of the provenance job, a change to any of them reruns it.
SOFTWARE = machine.package_versions()
MACHINE = machine.describe(Path.cwd())
# Threads of the jobs that time whole stores: their process pools and reader processes use both
# cores. One-image timings run one operation at a time. Every library pool is capped at these.
STORE_TIMING_THREADS = 2
SINGLE_IMAGE_THREADS = 1
THREAD_CAPS = {
    "build_store": thread_pools.caps(STORE_TIMING_THREADS),
    "read_store": thread_pools.caps(STORE_TIMING_THREADS),
    "decode_floor": thread_pools.caps(STORE_TIMING_THREADS),
    "single_image": thread_pools.caps(SINGLE_IMAGE_THREADS),
    "loader": thread_pools.caps(STORE_TIMING_THREADS),
    "loader_limits": thread_pools.caps(STORE_TIMING_THREADS),
    "append": thread_pools.caps(STORE_TIMING_THREADS),
    "write_concurrent": thread_pools.caps(STORE_TIMING_THREADS),
    "read_one": thread_pools.caps(SINGLE_IMAGE_THREADS),
}


# Where each table a figure may be drawn from is (`registry.FigureSpec.tables`).
FIGURE_TABLES = {
    "summary": "results/tables/summary.csv",
    "disk": "results/tables/disk_usage.csv",
    "loader_summary": "results/tables/loader_summary.csv",
    "claims": "results/tables/claims.csv",
    "claim_experiments": "results/tables/claim_experiments.csv",
}


def figure_tables(wildcards):
    """The tables figure `wildcards.figure` is drawn from, by name."""
    return {
        name: FIGURE_TABLES[name] for name in registry.BY_NAME[wildcards.figure].tables
    }


def drawn_figures():
    """Every figure whose tables this run makes: the loader's only if it runs, those comparing
    image sizes only if it measures several."""
    return [
        spec.name
        for spec in registry.FIGURES
        if (LOADER_STORES or spec.tables != registry.LOADER_TABLES)
        and (len(SIZES) > 1 or not spec.across_sizes)
    ]


def figure_files():
    return expand(
        "results/figures/{figure}.{ext}",
        figure=drawn_figures(),
        ext=registry.FILE_TYPES,
    )


def archive_target(wildcards):
    """The archive of the current run, named after the run id its provenance record holds."""
    record = checkpoints.provenance.get().output.record
    with open(record) as source:
        run_id = json.load(source)["run_id"]
    return f"archives/imgbench-{run_id}.tar.gz"


# The two reports a user opens first (named by the run's closing line).
BENCHMARK_REPORT = "results/tables/benchmark.md"
HTML_REPORT = "results/report.html"


def archived_files():
    """Name inside the archive -> file, for every result a citation may need."""
    tables = ["timings.csv", "disk_usage.csv", "summary.csv", "benchmark.md"]
    tables += ["claims.csv", "claim_experiments.csv"]
    files = {f"tables/{name}": f"results/tables/{name}" for name in tables}
    files |= {path.removeprefix("results/"): path for path in figure_files()}
    files["report.html"] = HTML_REPORT
    files["provenance.json"] = "results/provenance.json"
    files["config.yaml"] = "results/config.yaml"
    return files


def report_config():
    """The config keys a reader of the benchmark report needs to interpret it."""
    keys = [
        "image_sizes",
        "cutoffs",
        "methods",
        "implementations",
        "baseline",
        "codecs",
        "jpeg_quality",
    ]
    keys += ["store_options", "repeats"]
    keys += ["single_operations", "reads", "stores"]
    return {"dataset.source": DATASET["source"], **{key: config[key] for key in keys}}


def final_outputs():
    return [
        "results/tables/timings.csv",
        "results/measurements/discarded.txt",
        "results/tables/disk_usage.csv",
        "results/tables/summary.csv",
        BENCHMARK_REPORT,
        "results/tables/claims.csv",
        *figure_files(),
        *loader_report_tables(),
    ]
