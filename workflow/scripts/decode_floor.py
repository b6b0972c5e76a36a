"""Rule decode_floor: time decoding one codec's images from memory, the floor of its stores."""

from pathlib import Path

from imgbench.codecs import DEFAULT_JPEG_QUALITY, Codec
from imgbench.job_log import job_log
from imgbench.store_timings import decode_floor

with job_log(snakemake.log[0]):
    decode_floor(
        Codec(
            snakemake.wildcards.codec,
            snakemake.params.jpeg_quality or DEFAULT_JPEG_QUALITY,
        ),
        pool=Path(snakemake.input.pool),
        image_size=int(snakemake.wildcards.size),
        n_images=int(snakemake.wildcards.n),
        table=Path(snakemake.output.table),
        quality=Path(snakemake.output.quality),
        repeats=snakemake.params.repeats,
        threads=snakemake.threads,
    )
