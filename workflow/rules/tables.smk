# Stage 3: per-job measurements aggregated into tidy tables, the figures (the tutorial's seven and
# the comparisons between implementations, cache states, orders and readers) and the benchmark report.


rule aggregate:
    input:
        timings=timing_tables(),
        disk=disk_tables(),
        provenance="results/provenance.json",
        code=library("tables.py"),
    output:
        timings=report(
            "results/tables/timings.csv",
            caption="../report/timings.rst",
            category="5. Tables",
        ),
        disk=report(
            "results/tables/disk_usage.csv",
            caption="../report/disk_usage.rst",
            category="5. Tables",
        ),
        summary=report(
            "results/tables/summary.csv",
            caption="../report/summary.rst",
            category="5. Tables",
        ),
    log:
        "results/logs/aggregate.log",
    conda:
        "../envs/imgbench.yaml"
    script:
        "../scripts/aggregate.py"


rule figures:
    input:
        summary="results/tables/summary.csv",
        disk="results/tables/disk_usage.csv",
        code=library("plots.py", "figure_list.py"),
    output:
        figure_outputs(),
    log:
        "results/logs/figures.log",
    conda:
        "../envs/imgbench.yaml"
    script:
        "../scripts/figures.py"


rule benchmark_report:
    input:
        summary="results/tables/summary.csv",
        disk="results/tables/disk_usage.csv",
        provenance="results/provenance.json",
        code=library("benchmark.py", "figure_list.py"),
    output:
        report(
            "results/tables/benchmark.md",
            caption="../report/benchmark.rst",
            category="5. Tables",
        ),
    log:
        "results/logs/benchmark_report.log",
    conda:
        "../envs/imgbench.yaml"
    params:
        config=report_config(),
    script:
        "../scripts/benchmark_report.py"
