#!/usr/bin/env bash
# Stop jobs started by submit.sh (Snakemake calls this on Ctrl-C): the whole session of each job.
set -uo pipefail
state=.snakemake/local-cluster
for id in "$@"; do
    pid="$(cat "$state/$id.pid" 2> /dev/null)" && kill -TERM -- "-$pid" 2> /dev/null
done
exit 0
