# Stage 1: the images. The CIFAR-10 python archive (downloaded, the user's own, or synthetic),
# verified, extracted safely and unpickled; or a folder of the user's own images. From either, one
# image pool per configured image size.


rule fetch_cifar:
    input:
        users_cifar_archive(),
        code=tracked_code("fetch_cifar.py"),
    output:
        archive="results/dataset/download/cifar-10-python.tar.gz",
        checksum="results/dataset/download/cifar-10-python.tar.gz.md5",
    log:
        "results/logs/fetch_cifar.log",
    benchmark:
        "results/benchmarks/fetch_cifar.tsv"
    conda:
        "../envs/imgbench.yaml"
    params:
        url=DATASET["url"],
        md5=DATASET["md5"],
        local_archive=DATASET.get("archive"),
        retries=DATASET["download_retries"],
        timeout_seconds=DATASET["download_timeout_seconds"],
    script:
        "../scripts/fetch_cifar.py"


rule synthesize_cifar:
    input:
        code=tracked_code("synthesize_cifar.py"),
    output:
        archive="results/dataset/synthetic/cifar-10-python.tar.gz",
        checksum="results/dataset/synthetic/cifar-10-python.tar.gz.md5",
    log:
        "results/logs/synthesize_cifar.log",
    benchmark:
        "results/benchmarks/synthesize_cifar.tsv"
    conda:
        "../envs/imgbench.yaml"
    params:
        images=DATASET["synthetic_images"],
        seed=DATASET["seed"],
    script:
        "../scripts/synthesize_cifar.py"


rule extract_cifar:
    input:
        archive=f"{cifar_folder()}/cifar-10-python.tar.gz",
        checksum=f"{cifar_folder()}/cifar-10-python.tar.gz.md5",
        code=tracked_code("extract_cifar.py"),
    output:
        directory("results/dataset/cifar-10-batches-py"),
    log:
        "results/logs/extract_cifar.log",
    benchmark:
        "results/benchmarks/extract_cifar.tsv"
    conda:
        "../envs/imgbench.yaml"
    script:
        "../scripts/extract_cifar.py"


rule build_pool:
    input:
        unpack(pool_inputs),
        code=tracked_code("build_pool.py"),
    output:
        pool=POOL,
        record=POOL_RECORD,
    log:
        "results/logs/build_pool/{size}px.log",
    benchmark:
        "results/benchmarks/build_pool/{size}px.tsv"
    conda:
        "../envs/imgbench.yaml"
    threads: 2
    resources:
        mem_mb=lambda wildcards: 1024
        + math.ceil(
            3
            * pixel_bytes(int(wildcards.size), pool_images(int(wildcards.size)))
            / 2**20
        ),
    params:
        recipe=pool_recipe,
    script:
        "../scripts/build_pool.py"
