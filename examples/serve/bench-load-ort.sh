#!/bin/sh
# ONNX Runtime batched vs unbatched serving (docs/results.md, "Serving on ONNX Runtime — batched
# decode steps"), run from the repository root after packaging, on a SoFT run (examples/soft-long):
#   sh examples/serve/bench-load-ort.sh bundles/target/manyfold/bin/manyfold runs/soft-long-soft 18640 5 2
# Arguments: launcher, run directory, first of two ports, seconds per cell, rounds.
# Starts two onnxruntime servers of the same run: unbatched (--batch 1 --max-concurrency 2) and
# batched (--batch 16 --max-concurrency 16 --max-unbatched 2); one `bench serve` invocation
# load-tests both at 1, 4 and 16 streaming clients, servers and budgets interleaved within a
# level and every level repeated per round.
M=$1; RUN=$2; PORT=$3; SECONDS_PER_CELL=$4; ROUNDS=$5
ID=$(basename "$RUN")
PIDS=""
URLS=""
for I in 0 1; do
  case $I in
    0) LABEL=ort; OPTIONS="--batch 1 --max-concurrency 2 --max-unbatched 2" ;;
    1) LABEL=ort-batch; OPTIONS="--batch 16 --max-concurrency 16 --max-unbatched 2" ;;
  esac
  # shellcheck disable=SC2086
  $M serve "$RUN" --engine onnxruntime --port $((PORT + I)) --max-queue 64 $OPTIONS > "serve-ort-$I.log" 2>&1 &
  PIDS="$PIDS $!"
  URLS="$URLS $LABEL=http://127.0.0.1:$((PORT + I))"
done
for I in 0 1; do
  for i in $(seq 1 300); do
    grep -q '^serving ' "serve-ort-$I.log" 2>/dev/null && break
    sleep 1
  done
  grep '^serving ' "serve-ort-$I.log" || cat "serve-ort-$I.log"
done
echo "before: $(uptime)"
# shellcheck disable=SC2086
$M bench serve $URLS --clients 1,4,16 --seconds "$SECONDS_PER_CELL" --rounds "$ROUNDS" --max-tokens 64 --warmup 3 \
  --budget "$ID" --budget "$ID:exit-3"
STATUS=$?
echo "after: $(uptime)"
curl -s "http://127.0.0.1:$((PORT + 1))/metrics" | grep '^manyfold_batched'
# shellcheck disable=SC2086
kill -TERM $PIDS
wait
exit $STATUS
