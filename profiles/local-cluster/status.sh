#!/usr/bin/env bash
# Print the state of a job started by submit.sh, as Snakemake's cluster-generic executor expects:
# running, success or failed. A job whose process is gone without an exit code was killed.
set -euo pipefail
state=.snakemake/local-cluster
id="$1"
if [[ -f "$state/$id.exit" ]]; then
    [[ "$(cat "$state/$id.exit")" == 0 ]] && echo success || echo failed
elif kill -0 "$(cat "$state/$id.pid")" 2> /dev/null; then
    echo running
else
    echo failed
fi
