# Stage 2: one store per method and cutoff, each built and timed by its own job, then read back,
# verified and timed, and measured with du. Jobs holding `timing_slot` never overlap.


rule build_store:
    input:
        pool="results/dataset/pool.npz",
        code=library("stores/{method}.py", "stores/base.py", "measure.py"),
    output:
        store=directory("results/stores/{method}/{n}"),
        table="results/measurements/{method}/{n}/write_many.csv",
    log:
        "results/logs/build_store/{method}/{n}.log",
    conda:
        "../envs/imgbench.yaml"
    resources:
        timing_slot=1,
    params:
        repeats=config["repeats"],
    script:
        "../scripts/build_store.py"


rule read_store:
    input:
        pool="results/dataset/pool.npz",
        store="results/stores/{method}/{n}",
        code=library("stores/{method}.py", "stores/base.py", "measure.py"),
    output:
        table="results/measurements/{method}/{n}/read_many.csv",
    log:
        "results/logs/read_store/{method}/{n}.log",
    conda:
        "../envs/imgbench.yaml"
    resources:
        timing_slot=1,
    params:
        repeats=config["repeats"],
    script:
        "../scripts/read_store.py"


rule single_image:
    input:
        pool="results/dataset/pool.npz",
        code=library("stores/{method}.py", "stores/base.py", "measure.py"),
    output:
        table="results/measurements/{method}/single.csv",
    log:
        "results/logs/single_image/{method}.log",
    conda:
        "../envs/imgbench.yaml"
    resources:
        timing_slot=1,
    params:
        repeats=config["repeats"],
        operations=config["single_operations"],
    script:
        "../scripts/single_image.py"


rule disk_usage:
    input:
        store="results/stores/{method}/{n}",
    output:
        table="results/measurements/{method}/{n}/disk_usage.csv",
    log:
        "results/logs/disk_usage/{method}/{n}.log",
    conda:
        "../envs/imgbench.yaml"
    script:
        "../scripts/disk_usage.py"
