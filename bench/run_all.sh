#!/usr/bin/env bash
# Every benchmark, one after another on a quiet machine, against one bench Neo4j server
# (.graphrec/bench, ports 7787/7574). Results: bench/results/*.json; logs: bench/results/*.log.
# Takes about 40 minutes on 2 cores.
set -uo pipefail
cd "$(dirname "$0")/.."
export GRAPHREC_SERVER_DIR=${GRAPHREC_SERVER_DIR:-$PWD/.graphrec/bench}
export GRAPHREC_BOLT_PORT=${GRAPHREC_BOLT_PORT:-7787}
export GRAPHREC_HTTP_PORT=${GRAPHREC_HTTP_PORT:-7574}
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p bench/results
graphrec neo4j start >/dev/null
run() { name=$1; shift; echo "== $name: $*" >&2; python "$@" > "bench/results/$name.log" 2>&1; echo "   exit $?" >&2; }
run cli_start bench/cli_start.py --runs 20
run load bench/load.py --runs 3
run train bench/train.py --epochs 4
run optimizer_step bench/optimizer_step.py   # no Neo4j: Keras's Adam against lazy Adam, a step
run recommend bench/recommend.py
run quality bench/quality.py
run pipeline bench/pipeline.py --users 2000
run serve bench/serve.py   # slashdot0902 and its model from the pipeline run: wrk against graphrec serve
run embed bench/embed.py models/bench/slashdot0902 --runs 1   # slashdot0902 is loaded last; each run rebuilds the index (~3 min)
graphrec neo4j stop >/dev/null
