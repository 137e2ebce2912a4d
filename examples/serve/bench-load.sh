#!/bin/sh
# The serving load goals of docs/results.md ("Serving — continuous batching ..."), run from the
# repository root after packaging, on a SoFT run (examples/soft-long):
#   sh examples/serve/bench-load.sh bundles/target/manyfold/bin/manyfold runs/soft-long-soft 18600 5 2
# Arguments: launcher, run directory, first of four ports, seconds per cell, rounds.
# Starts four servers of the same run: pytorch unbatched (--max-concurrency 2, the old default),
# pytorch batched (--max-concurrency 16 --batch 16), onnxruntime unbatched (--max-concurrency 2)
# and onnxruntime with --max-concurrency 16 (it cannot batch). One `bench serve` invocation then
# load-tests all four at 1, 4 and 16 streaming clients, servers and budgets interleaved within a
# level and every level repeated per round, so load drift on the shared machine falls on all.
M=$1; RUN=$2; PORT=$3; SECONDS_PER_CELL=$4; ROUNDS=$5
ID=$(basename "$RUN")
PIDS=""
URLS=""
for I in 0 1 2 3; do
  case $I in
    0) LABEL=pt; OPTIONS="--engine pytorch --max-concurrency 2" ;;
    1) LABEL=pt-batch16; OPTIONS="--engine pytorch --max-concurrency 16 --batch 16" ;;
    2) LABEL=ort; OPTIONS="--engine onnxruntime --max-concurrency 2" ;;
    3) LABEL=ort-16; OPTIONS="--engine onnxruntime --max-concurrency 16" ;;
  esac
  # shellcheck disable=SC2086
  $M serve "$RUN" --port $((PORT + I)) --max-queue 64 $OPTIONS > "serve-load-$I.log" 2>&1 &
  PIDS="$PIDS $!"
  URLS="$URLS $LABEL=http://127.0.0.1:$((PORT + I))"
done
for I in 0 1 2 3; do
  for i in $(seq 1 300); do
    grep -q '^serving ' "serve-load-$I.log" 2>/dev/null && break
    sleep 1
  done
  grep '^serving ' "serve-load-$I.log" || cat "serve-load-$I.log"
done
echo "before: $(uptime)"
# shellcheck disable=SC2086
$M bench serve $URLS --clients 1,4,16 --seconds "$SECONDS_PER_CELL" --rounds "$ROUNDS" --max-tokens 64 --warmup 3 \
  --budget "$ID" --budget "$ID:exit-3" \
  --budget "$ID {\"decoder\": \"self-speculative\", \"draft\": 3, \"k\": 16, \"draft-confidence\": 0.4}"
STATUS=$?
echo "after: $(uptime)"
curl -s "http://127.0.0.1:$((PORT + 1))/metrics" | grep '^manyfold_batched'
# shellcheck disable=SC2086
kill -TERM $PIDS
wait
exit $STATUS
