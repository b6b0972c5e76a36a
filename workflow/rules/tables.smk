# Stage 3: per-job measurements aggregated into tidy tables, the figures (the tutorial's seven and
# the comparisons between implementations, cache states, orders and readers) and the benchmark report.


rule aggregate:
    input:
        timings=timing_tables(),
        disk=disk_tables(),
        code=library("tables.py"),
    output:
        timings="results/tables/timings.csv",
        disk="results/tables/disk_usage.csv",
        summary="results/tables/summary.csv",
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
        expand("results/figures/{name}.{ext}", name=FIGURES, ext=FORMATS),
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
        code=library("benchmark.py", "machine.py"),
    output:
        "results/tables/benchmark.md",
    log:
        "results/logs/benchmark_report.log",
    conda:
        "../envs/imgbench.yaml"
    params:
        config=report_config(),
    script:
        "../scripts/benchmark_report.py"
