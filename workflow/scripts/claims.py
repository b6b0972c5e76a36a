"""Rule claims: a verdict for each of the tutorial's claims, from this run's tables."""

from pathlib import Path

from imgbench.claims import write_tables
from imgbench.job_log import job_log

with job_log(snakemake.log[0]):
    claims = write_tables(
        summary=Path(snakemake.input.summary),
        disk=Path(snakemake.input.disk),
        appends=[Path(path) for path in snakemake.input.appends],
        writers=[Path(path) for path in snakemake.input.writers],
        cores=int(snakemake.params.cores),
        claims_table=Path(snakemake.output.claims),
        experiments_table=Path(snakemake.output.experiments),
    )
    print(claims[["claim", "verdict", "measured"]].to_string(index=False))
