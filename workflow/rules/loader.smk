# Stage 2b: the training loader (config `loader`). Each store of `loader.implementations` at
# `loader.n` images, and the limits (the images in memory, memory-mapped, encoded in memory),
# read in epochs through PyTorch's DataLoader in every (sampler, workers) cell. Timing jobs: they
# hold `timing_slot` like the others.


rule loader:
    input:
        pool=POOL,
        store_dir=STORE_DIR,
        code=store_code("loader.py"),
    output:
        table="results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/loader.csv",
    log:
        "results/logs/loader/{format}/{implementation}/{codec}/{size}px/{n}.log",
    benchmark:
        "results/benchmarks/loader/{format}/{implementation}/{codec}/{size}px/{n}.tsv"
    conda:
        "../envs/imgbench.yaml"
    threads: STORE_TIMING_THREADS
    resources:
        timing_slot=1,
        mem_mb=loader_mem_mb,
        runtime=store_runtime_minutes,
    params:
        store=store_params(),
        repeats=config["repeats"],
        loader=LOADER_SETTINGS,
    script:
        "../scripts/loader.py"


rule loader_limits:
    input:
        pool=POOL,
        raw_store=raw_store_for_limits,
        code=tracked_code("loader_limits.py"),
    output:
        table="results/measurements/limit/{size}px/{n}/loader.csv",
    log:
        "results/logs/loader_limits/{size}px/{n}.log",
    benchmark:
        "results/benchmarks/loader_limits/{size}px/{n}.tsv"
    conda:
        "../envs/imgbench.yaml"
    threads: STORE_TIMING_THREADS
    resources:
        timing_slot=1,
        mem_mb=loader_mem_mb,
        runtime=store_runtime_minutes,
    params:
        codecs=LOADER_CODECS,
        jpeg_quality=LOADER_JPEG_QUALITY,
        repeats=config["repeats"],
        loader=LOADER_SETTINGS,
    script:
        "../scripts/loader_limits.py"


rule aggregate_loader:
    input:
        tables=loader_tables(),
        provenance="results/provenance.json",
        code=tracked_code("aggregate_loader.py"),
    output:
        epochs=report(
            "results/tables/loader.csv",
            caption="../report/loader_table.rst",
            category="8. Tables",
        ),
        summary=report(
            "results/tables/loader_summary.csv",
            caption="../report/loader_summary.rst",
            category="8. Tables",
        ),
    log:
        "results/logs/aggregate_loader.log",
    benchmark:
        "results/benchmarks/aggregate_loader.tsv"
    conda:
        "../envs/imgbench.yaml"
    script:
        "../scripts/aggregate_loader.py"
