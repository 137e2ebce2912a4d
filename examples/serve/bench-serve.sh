#!/bin/sh
# The serving load test of docs/results.md ("Serving"), run from the repository root after
# packaging, on a SoFT run (examples/soft-long: pretrain.yaml, then soft.yaml):
#   sh examples/serve/bench-serve.sh bundles/target/manyfold/bin/manyfold runs/soft-long-soft 18480 15
# Arguments: launcher, run directory, port, seconds per cell, then extra `serve` options.
# Starts `manyfold serve` on loopback, load-tests four budgets at 1, 4 and 16 streaming
# clients, then stops the server with SIGTERM.
M=$1; RUN=$2; PORT=$3; SECONDS_PER_CELL=$4; shift 4
ID=$(basename "$RUN")
$M serve "$RUN" --port "$PORT" --max-concurrency 2 --max-queue 64 --batch 1 "$@" > serve-bench.log 2>&1 &
SERVER=$!
for i in $(seq 1 120); do
  grep -q '^serving ' serve-bench.log 2>/dev/null && break
  sleep 1
done
cat serve-bench.log | grep '^serving '
$M bench serve "http://127.0.0.1:$PORT" --clients 1,4,16 --seconds "$SECONDS_PER_CELL" --max-tokens 64 --warmup 4 \
  --budget "$ID" --budget "$ID:exit-3" \
  --budget "$ID {\"decoder\": \"self-speculative\", \"draft\": 3, \"k\": 16, \"draft-confidence\": 0.4}" \
  --budget "$ID {\"decoder\": \"early-exit\", \"thresholds\": {\"2\": 0.5, \"3\": 0.5, \"4\": 0.4}}"
STATUS=$?
kill -TERM "$SERVER"
wait "$SERVER"
exit $STATUS
