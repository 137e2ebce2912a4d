#!/bin/sh
# SoFT against SFT on instruction data with the loss on answers only (the Sorted LLaMA paper's
# Alpaca setting, in miniature; issue 15, point 7). Run from the repository root after
# `mvn -q -B package -DskipTests`:
#   sh examples/soft-instructions/run.sh            # about 25 min at nice 19 on a loaded 2-core machine
# Prints each run's per-exit table (loss, KL(p_L||p_n), hidden-state cosine) and writes
# eval.csv, eval-exits.csv, eval-exit-positions.csv/.png (KL and cosine by response position)
# into runs/soft-instructions-{sft,soft}/. The paired-seed version is examples/soft-fidelity/run.sh.
set -e
M=${M:-bundles/target/manyfold/bin/manyfold}
D=examples/soft-instructions
for s in pretrain sft soft; do
  if [ ! -f "runs/soft-instructions-$s/latest" ]; then
    nice -n 19 "$M" train "$D/$s.yaml" --run-dir "runs/soft-instructions-$s"
  fi
done
for s in sft soft; do
  echo "== $s: per-exit table on the held-out answers"
  nice -n 19 "$M" eval "runs/soft-instructions-$s" --batches 100
done
