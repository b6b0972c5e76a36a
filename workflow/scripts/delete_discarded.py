"""Rule delete_discarded: delete what the timing jobs set aside, once none is left to disturb."""

from pathlib import Path

from imgbench import discards
from imgbench.atomic_files import atomic_path
from imgbench.job_log import job_log

with job_log(snakemake.log[0]):
    discarded = snakemake.params.discarded
    deleted = discards.delete_all(Path(discarded) if discarded else None)
    print(deleted.line())
    with atomic_path(Path(snakemake.output.record)) as partial:
        partial.write_text(deleted.line() + "\n")
