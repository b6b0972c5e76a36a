# imgbench: how fast and how compactly Python stores and reads back many small images.
# This file only validates config and includes the rules by stage; all logic is in src/imgbench.
import os

from snakemake.utils import min_version

min_version("9.27")


# The defaults live beside this file, so `--directory` and test runs elsewhere still find them.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/stores.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/loader.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/progress.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
