# Config validation, constants and input functions shared by every stage.
import os

from snakemake.utils import validate

from imgbench.figure_list import FIGURES, FORMATS

validate(config, schema="../schemas/config.schema.yaml")

DATASET = config["dataset"]
METHODS = config["methods"]
CUTOFFS = config["cutoffs"]


wildcard_constraints:
    method="[a-z][a-z0-9_]*",
    n=r"[1-9][0-9]*",


def library(*modules):
    """Library source files a job's results depend on: editing one reruns exactly those jobs."""
    return [
        os.path.join(workflow.basedir, "src", "imgbench", module) for module in modules
    ]


def archive_folder():
    """Where the archive the rest of the pipeline uses comes from."""
    source = "synthetic" if DATASET["source"] == "synthetic" else "download"
    return f"results/dataset/{source}"


def local_archive():
    """The user's own copy of the archive, if `dataset.archive` names one."""
    return [DATASET["archive"]] if DATASET.get("archive") else []


def timing_tables():
    per_cutoff = expand(
        "results/measurements/{method}/{n}/{operation}.csv",
        method=METHODS,
        n=CUTOFFS,
        operation=["write_many", "read_many"],
    )
    return per_cutoff + expand(
        "results/measurements/{method}/single.csv", method=METHODS
    )


def disk_tables():
    return expand(
        "results/measurements/{method}/{n}/disk_usage.csv", method=METHODS, n=CUTOFFS
    )


def final_outputs():
    return [
        "results/tables/timings.csv",
        "results/tables/disk_usage.csv",
        "results/tables/summary.csv",
        *expand("results/figures/{name}.{ext}", name=FIGURES, ext=FORMATS),
    ]
