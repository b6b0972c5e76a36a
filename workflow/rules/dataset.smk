# Stage 1: the CIFAR-10 python archive (downloaded, the user's own, or synthetic), verified,
# extracted safely and unpickled into one image pool.


rule fetch_archive:
    input:
        local_archive(),
    output:
        archive="results/dataset/download/cifar-10-python.tar.gz",
        checksum="results/dataset/download/cifar-10-python.tar.gz.md5",
    log:
        "results/logs/fetch_archive.log",
    conda:
        "../envs/imgbench.yaml"
    params:
        url=DATASET["url"],
        md5=DATASET["md5"],
        local_archive=DATASET.get("archive"),
        retries=DATASET["download_retries"],
        timeout_seconds=DATASET["download_timeout_seconds"],
    script:
        "../scripts/fetch_archive.py"


rule synthesize_archive:
    input:
        library("synthetic.py"),
    output:
        archive="results/dataset/synthetic/cifar-10-python.tar.gz",
        checksum="results/dataset/synthetic/cifar-10-python.tar.gz.md5",
    log:
        "results/logs/synthesize_archive.log",
    conda:
        "../envs/imgbench.yaml"
    params:
        images=DATASET["synthetic_images"],
        seed=DATASET["seed"],
    script:
        "../scripts/synthesize_archive.py"


rule extract_archive:
    input:
        archive=f"{archive_folder()}/cifar-10-python.tar.gz",
        checksum=f"{archive_folder()}/cifar-10-python.tar.gz.md5",
    output:
        directory("results/dataset/cifar-10-batches-py"),
    log:
        "results/logs/extract_archive.log",
    conda:
        "../envs/imgbench.yaml"
    script:
        "../scripts/extract_archive.py"


rule build_pool:
    input:
        "results/dataset/cifar-10-batches-py",
    output:
        "results/dataset/pool.npz",
    log:
        "results/logs/build_pool.log",
    conda:
        "../envs/imgbench.yaml"
    script:
        "../scripts/build_pool.py"
