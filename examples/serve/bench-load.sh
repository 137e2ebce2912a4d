#!/bin/sh
# The serving load goals of docs/results.md ("Serving — continuous batching ..."), run from the
# repository root after packaging, on a SoFT run (examples/soft-long):
#   sh examples/serve/bench-load.sh bundles/target/manyfold/bin/manyfold runs/soft-long-soft 18600 5 2
# Arguments: launcher, run directory, first of three ports, seconds per cell, rounds.
# Starts three servers of the same run: pytorch unbatched (--batch 1 --max-concurrency 2),
# pytorch batched (--batch 16 --max-concurrency 16 --max-unbatched 2) and onnxruntime
# (--max-concurrency 2; it cannot batch). One `bench serve` invocation then load-tests all three
# at 1, 4 and 16 streaming clients, servers and budgets interleaved within a level and every
# level repeated per round, so load drift on the shared machine falls on all of them alike.
M=$1; RUN=$2; PORT=$3; SECONDS_PER_CELL=$4; ROUNDS=$5
ID=$(basename "$RUN")
PIDS=""
URLS=""
for I in 0 1 2; do
  case $I in
    0) LABEL=pt; OPTIONS="--engine pytorch --batch 1 --max-concurrency 2 --max-unbatched 2" ;;
    1) LABEL=pt-batch; OPTIONS="--engine pytorch --batch 16 --max-concurrency 16 --max-unbatched 2" ;;
    2) LABEL=ort; OPTIONS="--engine onnxruntime --batch 1 --max-concurrency 2 --max-unbatched 2" ;;
  esac
  # shellcheck disable=SC2086
  $M serve "$RUN" --port $((PORT + I)) --max-queue 64 $OPTIONS > "serve-load-$I.log" 2>&1 &
  PIDS="$PIDS $!"
  URLS="$URLS $LABEL=http://127.0.0.1:$((PORT + I))"
done
for I in 0 1 2; do
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
