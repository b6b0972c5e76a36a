#!/usr/bin/env bash
# Submit one Snakemake job script as a detached background process on this machine and print its
# job id: the same submit / poll / finish cycle as a batch scheduler, with each job in its own
# Snakemake process. State lives in .snakemake/local-cluster/<id>.{pid,exit,out}.
set -euo pipefail
jobscript="${!#}"  # Snakemake passes the job script as the last argument
state=.snakemake/local-cluster
mkdir -p "$state"
id="$(date +%s%N)-$$"
setsid bash -c '
    bash "$1" > "$2/$3.out" 2>&1
    echo $? > "$2/$3.exit.part" && mv "$2/$3.exit.part" "$2/$3.exit"
' local-cluster-job "$jobscript" "$state" "$id" < /dev/null > /dev/null 2>&1 &
echo $! > "$state/$id.pid"
echo "$id"
