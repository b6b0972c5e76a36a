# What the terminal shows around a run (`imgbench.progress`): before the first job, the run's
# expected time from the planned jobs' last benchmark files; after the last, how long it took
# and where to look. Snakemake runs these hooks only in the main process (jobs get --no-hooks)
# and not for a dry run.
from datetime import datetime

from snakemake.logging import logger

from imgbench import progress

REPORT_COMMAND = f"`make report` (or `snakemake {HTML_REPORT}`)"


def planned_jobs():
    """The jobs Snakemake is about to run, as the estimate needs them."""
    return [
        progress.PlannedJob(
            job.rule.name,
            Path(job.benchmark) if job.benchmark else None,
            job.threads,
            timing="timing_slot" in job.resources.keys(),
        )
        for job in workflow.dag.needrun_jobs()
    ]


onstart:
    cores = workflow.resource_settings.cores or os.cpu_count() or 1
    logger.info(progress.run_estimate(planned_jobs(), cores))


onsuccess:
    seconds = (datetime.now() - workflow.start_time).total_seconds()
    logger.info(
        progress.closing_line(
            seconds,
            workflow.start_time.timestamp(),
            [Path(BENCHMARK_REPORT)],
            Path(HTML_REPORT),
            REPORT_COMMAND,
        )
    )
