# The experiments that check the tutorial's claims (`imgbench.claims`), at the claims' image size:
# every store takes 10% more images, W processes write one store together, and a fresh process
# reads one image of each store of the largest cutoff. All are timing jobs (`timing_slot`); the
# claims job turns the run's tables into a verdict per claim.


rule append:
    input:
        pool=POOL,
        code=store_code("append.py"),
    output:
        table="results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/append.csv",
        record="results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/append.json",
    log:
        "results/logs/append/{format}/{implementation}/{codec}/{size}px/{n}.log",
    benchmark:
        "results/benchmarks/append/{format}/{implementation}/{codec}/{size}px/{n}.tsv"
    conda:
        "../envs/imgbench.yaml"
    threads: STORE_TIMING_THREADS
    resources:
        timing_slot=1,
        mem_mb=store_mem_mb(copies=4),
        runtime=store_runtime_minutes,
    params:
        store=store_params(),
        repeats=config["repeats"],
        extra=lambda wildcards: append_n()[1],
        scratch=os.path.join(
            STORES_FOLDER, "{format}/{implementation}/{codec}/{size}px/append-{n}"
        ),
        discarded=DISCARDED,
    script:
        "../scripts/append.py"


rule write_concurrent:
    input:
        pool=POOL,
        code=store_code("write_concurrent.py"),
    output:
        table="results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/write_concurrent.csv",
        record="results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/write_concurrent.json",
    log:
        "results/logs/write_concurrent/{format}/{implementation}/{codec}/{size}px/{n}.log",
    benchmark:
        "results/benchmarks/write_concurrent/{format}/{implementation}/{codec}/{size}px/{n}.tsv"
    conda:
        "../envs/imgbench.yaml"
    threads: STORE_TIMING_THREADS
    resources:
        timing_slot=1,
        mem_mb=store_mem_mb(copies=4),
        runtime=store_runtime_minutes,
    params:
        store=store_params(),
        repeats=config["repeats"],
        writers=CLAIMS["concurrent_writers"]["writers"],
        scratch=os.path.join(
            STORES_FOLDER, "{format}/{implementation}/{codec}/{size}px/writers-{n}"
        ),
        discarded=DISCARDED,
    script:
        "../scripts/write_concurrent.py"


rule read_one:
    input:
        pool=POOL,
        store_dir=STORE_DIR,
        code=store_code("read_one.py"),
    output:
        table="results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/read_one.csv",
    log:
        "results/logs/read_one/{format}/{implementation}/{codec}/{size}px/{n}.log",
    benchmark:
        "results/benchmarks/read_one/{format}/{implementation}/{codec}/{size}px/{n}.tsv"
    priority: READ_PRIORITY
    conda:
        "../envs/imgbench.yaml"
    # One thread measures, but both cores are held: inside a node-local store's group job only
    # the threads keep it apart from the store's other timing and du jobs.
    threads: STORE_TIMING_THREADS
    resources:
        timing_slot=1,
        mem_mb=store_mem_mb(copies=1),
        runtime=15,
    params:
        store=store_params(),
        repeats=config["repeats"],
    script:
        "../scripts/read_one.py"


rule claims:
    input:
        summary="results/tables/summary.csv",
        disk="results/tables/disk_usage.csv",
        appends=claim_records("append"),
        writers=claim_records("write_concurrent"),
        code=tracked_code("claims.py"),
    output:
        claims=report(
            "results/tables/claims.csv",
            caption="../report/claims.rst",
            category="0. The tutorial's claims",
        ),
        experiments=report(
            "results/tables/claim_experiments.csv",
            caption="../report/claim_experiments.rst",
            category="0. The tutorial's claims",
        ),
    log:
        "results/logs/claims.log",
    benchmark:
        "results/benchmarks/claims.tsv"
    conda:
        "../envs/imgbench.yaml"
    params:
        cores=MACHINE["cores"],
    script:
        "../scripts/claims.py"
