"""Rule build_pool: the image pool of one size, made as its recipe says."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.pool_sources import build_sized_pool

with job_log(snakemake.log[0]):
    build_sized_pool(
        recipe=dict(snakemake.params.recipe),
        side=int(snakemake.wildcards.size),
        inputs={key: Path(path) for key, path in snakemake.input.items() if key != "code"},
        out=Path(snakemake.output.pool),
        record=Path(snakemake.output.record),
        workers=snakemake.threads,
    )
