# Stage 3: per-job measurements aggregated into tidy tables, one job per figure (the tutorial's
# seven and the comparisons between implementations, cache states, orders and readers) and the
# benchmark report.


rule aggregate:
    input:
        timings=timing_tables(),
        disk=disk_tables(),
        provenance="results/provenance.json",
        code=tracked_code("aggregate.py"),
    output:
        timings=report(
            "results/tables/timings.csv",
            caption="../report/timings.rst",
            category="8. Tables",
        ),
        disk=report(
            "results/tables/disk_usage.csv",
            caption="../report/disk_usage.rst",
            category="8. Tables",
        ),
        summary=report(
            "results/tables/summary.csv",
            caption="../report/summary.rst",
            category="8. Tables",
        ),
    log:
        "results/logs/aggregate.log",
    benchmark:
        "results/benchmarks/aggregate.tsv"
    conda:
        "../envs/imgbench.yaml"
    script:
        "../scripts/aggregate.py"


rule figure:
    input:
        unpack(figure_tables),
        code=figure_code,
    output:
        png=report(
            "results/figures/{figure}.png",
            caption="../report/figure.rst",
            category=lambda wildcards: registry.BY_NAME[wildcards.figure].category,
        ),
        svg="results/figures/{figure}.svg",
    log:
        "results/logs/figure/{figure}.log",
    benchmark:
        "results/benchmarks/figure/{figure}.tsv"
    conda:
        "../envs/imgbench.yaml"
    params:
        family=lambda wildcards: registry.BY_NAME[wildcards.figure].family,
        tables=lambda wildcards: registry.BY_NAME[wildcards.figure].tables,
        presentations=PRESENTATIONS,
        # Not used by the job: the HTML report shows it, and a new caption redraws the figure so
        # the report is made again.
        caption=lambda wildcards: registry.BY_NAME[wildcards.figure].caption,
    script:
        "../scripts/figure.py"


rule benchmark_report:
    input:
        summary="results/tables/summary.csv",
        timings="results/tables/timings.csv",
        disk="results/tables/disk_usage.csv",
        claims="results/tables/claims.csv",
        benchmarks=job_time_files(),
        codecs=codec_records(),
        loader=loader_report_tables(),
        pools=pool_records(),
        pool_times=expand("results/benchmarks/build_pool/{size}px.tsv", size=SIZES),
        provenance="results/provenance.json",
        code=tracked_code("benchmark_report.py"),
    output:
        report(
            BENCHMARK_REPORT,
            caption="../report/benchmark.rst",
            category="8. Tables",
        ),
    log:
        "results/logs/benchmark_report.log",
    benchmark:
        "results/benchmarks/benchmark_report.tsv"
    conda:
        "../envs/imgbench.yaml"
    params:
        config=report_config(),
        presentations=PRESENTATIONS,
        figures=drawn_figures(),
    script:
        "../scripts/benchmark_report.py"
