#!/bin/sh
# The Hugging Face pipeline end to end, the shape a user runs on a real model:
#   1. pretrain a tiny LLaMA (stands in for a Hub checkpoint)      -> runs/hf/pretrain
#   2. export it as a Hugging Face directory                       -> runs/hf/base-hf
#   3. SoFT-tune it on instruction JSONL, imported with model.from -> runs/hf/soft
#   4. export the exit-2 sub-model as its own Hugging Face dir     -> runs/hf/exit2-hf
#   5. generate from that directory directly
# Run from the repository root after `mvn -q -B package -DskipTests` and .ci/install-data;
# QUICK=1 runs 4 steps per training stage (a smoke test), OUT= changes the output directory.
set -e
M=${MANYFOLD:-bundles/target/manyfold/bin/manyfold}
OUT=${OUT:-runs/hf}
if [ -n "$QUICK" ]; then
  PRE=$(mktemp --suffix=.yaml); SFT=$(mktemp --suffix=.yaml)
  sed 's/steps: 300/steps: 4/; s/warmup: 30/warmup: 1/; s/eval-every: 150/eval-every: 4/' examples/hf/pretrain.yaml > "$PRE"
  sed "s/steps: 150/steps: 4/; s/warmup: 15/warmup: 1/; s/eval-every: 75/eval-every: 4/; s#runs/hf/base-hf#$OUT/base-hf#" examples/hf/soft.yaml > "$SFT"
else
  PRE=examples/hf/pretrain.yaml
  SFT=$(mktemp --suffix=.yaml)
  sed "s#runs/hf/base-hf#$OUT/base-hf#" examples/hf/soft.yaml > "$SFT"
fi
$M train "$PRE" --run-dir "$OUT/pretrain"
$M export "$OUT/pretrain" --format hf -o "$OUT/base-hf"
$M train "$SFT" --run-dir "$OUT/soft"
$M export "$OUT/soft" --format hf -o "$OUT/soft-hf"
$M export "$OUT/soft" --format hf --exit 2 -o "$OUT/exit2-hf"
$M eval "$OUT/soft" --exits 2,4
$M generate "$OUT/exit2-hf" --prompt "Q: What is a computer?
A: " --max-new-tokens 48
