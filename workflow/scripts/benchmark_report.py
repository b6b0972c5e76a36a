"""Rule benchmark_report: the run's key ratios, checked against the targets, as Markdown."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.present.report import write_report

with job_log(snakemake.log[0]):
    write_report(
        summary=Path(snakemake.input.summary),
        timings=Path(snakemake.input.timings),
        disk=Path(snakemake.input.disk),
        benchmarks=[Path(path) for path in snakemake.input.benchmarks],
        codecs=[Path(path) for path in snakemake.input.codecs],
        provenance_record=Path(snakemake.input.provenance),
        report=Path(snakemake.output[0]),
        config=dict(snakemake.params.config),
        presentations=dict(snakemake.params.presentations),
        figures=list(snakemake.params.figures),
        loader=(
            (Path(snakemake.input.loader[0]), Path(snakemake.input.loader[1]))
            if snakemake.input.loader
            else None
        ),
        pools=list(
            zip(
                map(Path, snakemake.input.pools),
                map(Path, snakemake.input.pool_times),
                strict=True,
            )
        ),
        claims=Path(snakemake.input.claims),
    )
