# Stage 3: per-job measurements aggregated into tidy tables, and the tutorial's seven figures.


rule aggregate:
    input:
        timings=timing_tables(),
        disk=disk_tables(),
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
        code=library("plots.py"),
    output:
        expand("results/figures/{name}.{ext}", name=FIGURES, ext=FORMATS),
    log:
        "results/logs/figures.log",
    conda:
        "../envs/imgbench.yaml"
    script:
        "../scripts/figures.py"
