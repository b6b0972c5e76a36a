# Stage 2: one store per format, implementation, codec and cutoff, each built and timed by its own job,
# then read back (every read cell timed and verified), measured with du and checksummed. Jobs
# holding `timing_slot` never overlap.


rule build_store:
    input:
        pool=POOL,
        code=store_code("build_store.py"),
    output:
        store_dir=store_output(),
        table="results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/write_many.csv",
    log:
        "results/logs/build_store/{format}/{implementation}/{codec}/{size}px/{n}.log",
    benchmark:
        "results/benchmarks/build_store/{format}/{implementation}/{codec}/{size}px/{n}.tsv"
    conda:
        "../envs/imgbench.yaml"
    threads: STORE_TIMING_THREADS
    resources:
        timing_slot=1,
        mem_mb=store_mem_mb(copies=3),
        runtime=store_runtime_minutes,
    params:
        store=store_params(),
        repeats=config["repeats"],
        discarded=DISCARDED,
    script:
        "../scripts/build_store.py"


rule read_store:
    input:
        pool=POOL,
        store_dir=STORE_DIR,
        code=store_code("read_store.py"),
    output:
        table="results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/read_many.csv",
    log:
        "results/logs/read_store/{format}/{implementation}/{codec}/{size}px/{n}.log",
    benchmark:
        "results/benchmarks/read_store/{format}/{implementation}/{codec}/{size}px/{n}.tsv"
    priority: READ_PRIORITY
    conda:
        "../envs/imgbench.yaml"
    threads: STORE_TIMING_THREADS
    resources:
        timing_slot=1,
        mem_mb=store_mem_mb(copies=9),
        runtime=store_runtime_minutes,
    params:
        store=store_params(),
        repeats=config["repeats"],
        caches=read_factor("cache"),
        orders=read_factor("order"),
        readers=read_factor("readers"),
        seed=READS["seed"],
        batch_size=READS["batch_size"],
    script:
        "../scripts/read_store.py"


rule single_image:
    input:
        pool=POOL,
        code=store_code("single_image.py"),
    output:
        table="results/measurements/{format}/{implementation}/{codec}/{size}px/single.csv",
    log:
        "results/logs/single_image/{format}/{implementation}/{codec}/{size}px.log",
    benchmark:
        "results/benchmarks/single_image/{format}/{implementation}/{codec}/{size}px.tsv"
    conda:
        "../envs/imgbench.yaml"
    threads: SINGLE_IMAGE_THREADS
    resources:
        timing_slot=1,
        mem_mb=1024,
        runtime=15,
    params:
        store=store_params(),
        repeats=config["repeats"],
        operations=config["single_operations"],
        scratch=os.path.join(
            STORES_FOLDER, "{format}/{implementation}/{codec}/{size}px/single"
        ),
        discarded=DISCARDED,
    script:
        "../scripts/single_image.py"


rule decode_floor:
    input:
        pool=POOL,
        code=tracked_code("decode_floor.py"),
    output:
        table="results/measurements/floor/{codec}/{size}px/{n}/read_many.csv",
        quality="results/measurements/floor/{codec}/{size}px/{n}/quality.json",
    log:
        "results/logs/decode_floor/{codec}/{size}px/{n}.log",
    benchmark:
        "results/benchmarks/decode_floor/{codec}/{size}px/{n}.tsv"
    conda:
        "../envs/imgbench.yaml"
    threads: STORE_TIMING_THREADS
    resources:
        timing_slot=1,
        mem_mb=store_mem_mb(copies=4),
        runtime=store_runtime_minutes,
    params:
        jpeg_quality=jpeg_quality,
        repeats=config["repeats"],
    script:
        "../scripts/decode_floor.py"


rule disk_usage:
    input:
        store_dir=STORE_DIR,
        code=store_code("disk_usage.py"),
    output:
        table="results/measurements/{format}/{implementation}/{codec}/{size}px/{n}/disk_usage.csv",
    log:
        "results/logs/disk_usage/{format}/{implementation}/{codec}/{size}px/{n}.log",
    benchmark:
        "results/benchmarks/disk_usage/{format}/{implementation}/{codec}/{size}px/{n}.tsv"
    priority: DISK_USAGE_PRIORITY
    conda:
        "../envs/imgbench.yaml"
    resources:
        timing_slot=1,  # hashing a store would slow a timing job running beside it
    params:
        store=store_params(),
    script:
        "../scripts/disk_usage.py"


rule delete_discarded:
    input:
        after=timing_tables() + disk_tables(),  # only once every timing job is done
        code=tracked_code("delete_discarded.py"),
    output:
        record="results/measurements/discarded.txt",
    log:
        "results/logs/delete_discarded.log",
    benchmark:
        "results/benchmarks/delete_discarded.tsv"
    conda:
        "../envs/imgbench.yaml"
    params:
        discarded=DISCARDED,
    script:
        "../scripts/delete_discarded.py"
