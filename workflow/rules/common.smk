# Config validation, constants and input functions shared by every stage.
import os

from snakemake.utils import validate

from imgbench.figure_list import FIGURES, FORMATS

validate(config, schema="../schemas/config.schema.yaml")

DATASET = config["dataset"]
CUTOFFS = config["cutoffs"]
READS = config["reads"]
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


def report_config():
    """The config keys a reader of the benchmark report needs to interpret it."""
    keys = ["cutoffs", "methods", "implementations", "baseline", "repeats"]
    keys += ["single_operations", "reads"]
    return {"dataset.source": DATASET["source"], **{key: config[key] for key in keys}}


def final_outputs():
    return [
        "results/tables/timings.csv",
        "results/tables/disk_usage.csv",
        "results/tables/summary.csv",
        "results/tables/benchmark.md",
        *expand("results/figures/{name}.{ext}", name=FIGURES, ext=FORMATS),
    ]
