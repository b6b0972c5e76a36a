# Stage 4: where the results came from, Snakemake's HTML report, and one archive per run.


checkpoint provenance:
    input:
        **archive_files(),
        pools=pool_records(),
        timings=timing_tables(),
        disk=disk_tables(),
        loaders=loader_tables(),
        code=tracked_code("provenance.py"),
    output:
        record=report(
            "results/provenance.json",
            caption="../report/provenance.rst",
            category="9. Provenance",
        ),
        config="results/config.yaml",
    log:
        "results/logs/provenance.log",
    conda:
        "../envs/imgbench.yaml"
    params:
        project=project_of_script,
        config=config,
        thread_caps=THREAD_CAPS,
        format_facts=stores.facts(FORMATS),
        # Not used by the job, which describes its own machine: a change reruns it. New code in a
        # measuring job reruns that job, whose new table reruns this one.
        software=SOFTWARE,
        machine=MACHINE,
    script:
        "../scripts/provenance.py"


rule html_report:
    input:
        final_outputs(),
        config="results/config.yaml",
        claims="results/tables/claims.csv",
        # `snakemake --report` reads the rules, the captions and the figures' categories.
        code=tracked_code("html_report.py", "imgbench.present.registry"),
        snakefile=workflow.main_snakefile,
        workflow=report_sources(),
    output:
        HTML_REPORT,
    log:
        "results/logs/html_report.log",
    benchmark:
        "results/benchmarks/html_report.tsv"
    conda:
        "../envs/imgbench.yaml"
    script:
        "../scripts/html_report.py"


# Not tracked as code: an archive records one run and is never made again.
rule pack_result_archive:
    input:
        files=list(archived_files().values()),
    output:
        protected("archives/imgbench-{run_id}.tar.gz"),
    log:
        "results/logs/pack_result_archive/{run_id}.log",
    conda:
        "../envs/imgbench.yaml"
    params:
        names=list(archived_files()),
    script:
        "../scripts/pack_result_archive.py"


rule archive:
    input:
        archive_target,
