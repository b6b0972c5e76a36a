# Config validation, constants and input functions shared by every stage.
import json
import math
import os
from pathlib import Path

from snakemake.utils import validate

from imgbench import machine, provenance
from imgbench.config_checks import check_cutoffs_fit, check_stores_folder
from imgbench.figure_list import FIGURES, FORMATS

validate(config, schema="../schemas/config.schema.yaml")
check_cutoffs_fit(config)
check_stores_folder(config["stores"])

DATASET = config["dataset"]
CUTOFFS = config["cutoffs"]
READS = config["reads"]
STORES_FOLDER = config["stores"]["folder"]
STORE = os.path.join(STORES_FOLDER, "{method}/{implementation}/{n}")
# Every (method, implementation) measured: each format in each chosen way, plus the baseline.
STORES = [(m, i) for m in config["methods"] for i in config["implementations"]]
STORES += [("raw", "baseline")] if config["baseline"] else []


wildcard_constraints:
    method="[a-z][a-z0-9_]*",
    implementation="[a-z][a-z0-9_]*",
    n=r"[1-9][0-9]*",


def library(*modules):
    """Library source files a job's results depend on: editing one reruns exactly those jobs."""
    return [
        os.path.join(workflow.basedir, "src", "imgbench", module) for module in modules
    ]


def timing_code():
    """Code a timing job's numbers depend on: its format's module, shared I/O and measuring code."""
    modules = ["stores/{method}.py", "stores/base.py", "fileio.py"]
    return library(*modules, "measure.py", "pagecache.py")


# Jobs that only move or summarise small files run where Snakemake runs, never on a cluster node.
localrules:
    all,
    fetch_archive,
    synthesize_archive,
    provenance,
    aggregate,
    figures,
    benchmark_report,
    html_report,
    pack_archive,
    archive,


def store_output():
    """A store as its build job's output. In a node-local folder it is temporary and grouped with
    the jobs that read and measure it, so a cluster runs the three as one job on one node and
    Snakemake never looks for the store from the submitting machine."""
    store = directory(STORE)
    return temp(store, group_jobs=True) if config["stores"]["node_local"] else store


IMAGE_BYTES = 32 * 32 * 3


def store_mem_mb(copies):
    """Memory a store job needs: the image pool plus `copies` arrays of its N images (source,
    read-back, shared memory for reader processes, a format's own buffers), and 512 MB for
    Python and the libraries. `copies` covers the peaks Snakemake's `benchmark:` files measured
    at 100,000 images: writes up to 1.1 GB (PNG and LMDB fast), reads up to 2.9 GB (PNG
    tutorial, whose list of decoded images is stacked into one array).
    """

    def mem_mb(wildcards):
        return 512 + math.ceil(copies * int(wildcards.n) * IMAGE_BYTES / 2**20)

    return mem_mb


def store_runtime_minutes(wildcards):
    """A scheduler's time limit for one store job: ample for PNG at 100,000 images (~5 min)."""
    return 10 + int(wildcards.n) // 2000


def archive_folder():
    """Where the archive the rest of the pipeline uses comes from."""
    source = "synthetic" if DATASET["source"] == "synthetic" else "download"
    return f"results/dataset/{source}"


def local_archive():
    """The user's own copy of the archive, if `dataset.archive` names one."""
    return [DATASET["archive"]] if DATASET.get("archive") else []


def per_store(pattern, **wildcards):
    """`pattern` for every measured (method, implementation), expanded over `wildcards`."""
    return [
        path
        for method, implementation in STORES
        for path in expand(
            pattern, method=method, implementation=implementation, **wildcards
        )
    ]


def timing_tables():
    per_cutoff = per_store(
        "results/measurements/{method}/{implementation}/{n}/{operation}.csv",
        n=CUTOFFS,
        operation=["write_many", "read_many"],
    )
    return per_cutoff + per_store(
        "results/measurements/{method}/{implementation}/single.csv"
    )


def disk_tables():
    return per_store(
        "results/measurements/{method}/{implementation}/{n}/disk_usage.csv", n=CUTOFFS
    )


# Known before any job runs; as params of the provenance job, a change to any of them reruns it.
CODE_STATE = provenance.code_state(Path(workflow.basedir))
SOFTWARE = machine.package_versions()
MACHINE = machine.describe(Path.cwd())


FIGURE_CATEGORIES = {
    "throughput": "2. Implementations and baseline",
    "speedup_fast_vs_tutorial": "2. Implementations and baseline",
    "ratio_to_raw": "2. Implementations and baseline",
    "cache_warm_cold": "3. Read variations",
    "order_sequential_random": "3. Read variations",
    "readers_1_2": "3. Read variations",
    "durability": "4. Durable writes",
}


def figure_outputs():
    """Every figure file; the PNGs go into the HTML report with their captions."""
    outputs = []
    for name in FIGURES:
        for ext in FORMATS:
            path = f"results/figures/{name}.{ext}"
            if ext == "png":
                category = FIGURE_CATEGORIES.get(name, "1. Tutorial figures")
                caption = f"../report/{name}.rst"
                path = report(path, caption=caption, category=category)
            outputs.append(path)
    return outputs


def archive_target(wildcards):
    """The archive of the current run, named after the run id its provenance record holds."""
    record = checkpoints.provenance.get().output.record
    with open(record) as source:
        run_id = json.load(source)["run_id"]
    return f"archives/imgbench-{run_id}.tar.gz"


def archived_files():
    """Name inside the archive -> file, for every result a citation may need."""
    tables = ["timings.csv", "disk_usage.csv", "summary.csv", "benchmark.md"]
    files = {f"tables/{name}": f"results/tables/{name}" for name in tables}
    for name in FIGURES:
        for ext in FORMATS:
            files[f"figures/{name}.{ext}"] = f"results/figures/{name}.{ext}"
    files["report.html"] = "results/report.html"
    files["provenance.json"] = "results/provenance.json"
    files["config.yaml"] = "results/config.yaml"
    return files


def report_config():
    """The config keys a reader of the benchmark report needs to interpret it."""
    keys = ["cutoffs", "methods", "implementations", "baseline", "repeats"]
    keys += ["single_operations", "reads", "stores"]
    return {"dataset.source": DATASET["source"], **{key: config[key] for key in keys}}


def final_outputs():
    return [
        "results/tables/timings.csv",
        "results/tables/disk_usage.csv",
        "results/tables/summary.csv",
        "results/tables/benchmark.md",
        *expand("results/figures/{name}.{ext}", name=FIGURES, ext=FORMATS),
    ]
