"""Rule loader_limits: the loader's cells over the images in memory, memory-mapped and encoded."""

from pathlib import Path

from imgbench.codecs import DEFAULT_JPEG_QUALITY, Codec
from imgbench.job_log import job_log
from imgbench.loader_limits import load_limits

with job_log(snakemake.log[0]):
    load_limits(
        pool=Path(snakemake.input.pool),
        n_images=int(snakemake.wildcards.n),
        raw_store=Path(snakemake.input.raw_store) if snakemake.input.raw_store else None,
        codecs=[
            Codec(name, snakemake.params.jpeg_quality or DEFAULT_JPEG_QUALITY)
            for name in snakemake.params.codecs
        ],
        table=Path(snakemake.output.table),
        repeats=snakemake.params.repeats,
        loader=snakemake.params.loader,
        threads=snakemake.threads,
    )
