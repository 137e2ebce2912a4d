#!/bin/sh
# The batching comparison of docs/results.md ("Serving — batched decode steps"), run from the
# repository root after packaging, on the SoFT run of bench-serve.sh:
#   sh examples/serve/bench-batch.sh bundles/target/manyfold/bin/manyfold runs/soft-long-soft 18490 10
# Arguments: launcher, run directory, port, seconds per cell.
# Load-tests the greedy budgets (the full model and exit 3; the ones --batch batches) at 1, 4
# and 16 streaming clients against three servers in turn, one after the other in the same run:
# unbatched as bench-serve.sh serves (--max-concurrency 2), unbatched with 16 decodes at once,
# and batched (--max-concurrency 16 --batch 16). Prints the load average before and after.
M=$1; RUN=$2; PORT=$3; SECONDS_PER_CELL=$4
ID=$(basename "$RUN")
uptime
STATUS=0
for OPTIONS in "--max-concurrency 2" "--max-concurrency 16" "--max-concurrency 16 --batch 16"; do
  echo "== serve $OPTIONS"
  # shellcheck disable=SC2086
  $M serve "$RUN" --port "$PORT" --max-queue 64 $OPTIONS > serve-batch.log 2>&1 &
  SERVER=$!
  for i in $(seq 1 120); do
    grep -q '^serving ' serve-batch.log 2>/dev/null && break
    sleep 1
  done
  grep '^serving ' serve-batch.log
  $M bench serve "http://127.0.0.1:$PORT" --clients 1,4,16 --seconds "$SECONDS_PER_CELL" --max-tokens 64 --warmup 4 \
    --budget "$ID" --budget "$ID:exit-3" || STATUS=$?
  curl -s "http://127.0.0.1:$PORT/metrics" | grep '^manyfold_batched' || true
  kill -TERM "$SERVER"
  wait "$SERVER"
  PORT=$((PORT + 1))
  uptime
done
exit $STATUS
