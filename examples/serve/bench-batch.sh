#!/bin/sh
# The batching comparison of docs/results.md ("Serving — batched decode steps"), run from the
# repository root after packaging, on the SoFT run of bench-serve.sh:
#   sh examples/serve/bench-batch.sh bundles/target/manyfold/bin/manyfold runs/soft-long-soft 18490 7
# Arguments: launcher, run directory, first of three ports, seconds per cell.
# Starts three servers of the same run side by side: A unbatched as bench-serve.sh serves
# (--max-concurrency 2), B unbatched with 16 decodes at once, C batched (--max-concurrency 16
# --batch 16). Then, for 1, 4 and 16 streaming clients, twice in turn, load-tests A, B, C on
# the greedy budgets (the full model and exit 3; the ones --batch batches), so the three see
# the same (shared, noisy) machine. Prints the load average between rounds.
M=$1; RUN=$2; PORT=$3; SECONDS_PER_CELL=$4
ID=$(basename "$RUN")
PIDS=""
for I in 0 1 2; do
  case $I in
    0) OPTIONS="--max-concurrency 2 --batch 1" ;;
    1) OPTIONS="--max-concurrency 16 --max-unbatched 16 --batch 1" ;;
    2) OPTIONS="--max-concurrency 16 --batch 16" ;;
  esac
  # shellcheck disable=SC2086
  $M serve "$RUN" --port $((PORT + I)) --max-queue 64 $OPTIONS > "serve-batch-$I.log" 2>&1 &
  PIDS="$PIDS $!"
done
for I in 0 1 2; do
  for i in $(seq 1 180); do
    grep -q '^serving ' "serve-batch-$I.log" 2>/dev/null && break
    sleep 1
  done
  grep '^serving ' "serve-batch-$I.log"
done
STATUS=0
for CLIENTS in 1 4 16; do
  for ROUND in 1 2; do
    for I in 0 1 2; do
      echo "== server $I, $CLIENTS clients, round $ROUND; $(uptime)"
      $M bench serve "http://127.0.0.1:$((PORT + I))" --clients "$CLIENTS" --seconds "$SECONDS_PER_CELL" --max-tokens 64 --warmup 2 \
        --budget "$ID" --budget "$ID:exit-3" | grep '^| '"$ID" || STATUS=1
    done
  done
done
curl -s "http://127.0.0.1:$((PORT + 2))/metrics" | grep '^manyfold_batched'
# shellcheck disable=SC2086
kill -TERM $PIDS
wait
uptime
exit $STATUS
