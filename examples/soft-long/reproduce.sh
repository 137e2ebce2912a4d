#!/bin/sh
# Rebuilds the 8-layer SoFT model behind the adaptive-decoding headline (docs/results.md,
# "Adaptive decoding" round 2 and "Sorted LLaMA — fidelity round 2") from its recipes and runs
# the decode table with the paper's own settings beside the tuned ones. Run from the
# repository root after `mvn -q -B package -DskipTests`:
#   sh examples/soft-long/reproduce.sh                 # runs/soft-long-repro/{deep-pretrain,deep-soft,deep-soft2,deep-soft3,deep-soft4}
#   OUT=DIR BENCH=0 sh examples/soft-long/reproduce.sh # train only (the decode table is a timing run: run it alone)
# Training runs at `nice -n 19` (27 min measured at load 2-16 on a 2-core machine, EXPECTED.md);
# the decode table runs at the caller's priority. Expected figures: examples/soft-long/EXPECTED.md.
set -e
M=${M:-bundles/target/manyfold/bin/manyfold}
OUT=${OUT:-runs/soft-long-repro}
BENCH=${BENCH:-1}
HERE=$(dirname "$0")
mkdir -p "$OUT"
train() { # recipe, run name, init run (or empty)
  if [ -f "$OUT/$2/latest" ]; then echo "== $OUT/$2 exists, kept"; return; fi
  # runs/INIT becomes $OUT/INIT: the init checkpoint and any file of that run (deep-soft4's extra-train text).
  if [ -n "$3" ]; then sed "s#runs/$3#$OUT/$3#g" "$HERE/$1" > "$OUT/$2.yaml"; else cp "$HERE/$1" "$OUT/$2.yaml"; fi
  echo "== train $2 ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
  nice -n 19 "$M" train "$OUT/$2.yaml" --run-dir "$OUT/$2"
}
train deep-pretrain.yaml deep-pretrain ""
train deep-soft.yaml deep-soft deep-pretrain
train deep-soft2.yaml deep-soft2 deep-soft
echo "== exits of $OUT/deep-soft2 (EXPECTED.md: full loss 1.8262, exit 2 2.0860, exit 3 1.9380 ; 10 validation batches)"
nice -n 19 "$M" eval "$OUT/deep-soft2" --batches 10 --out "$OUT/deep-soft2-eval"
# Self-distilled exits (docs/results.md, "Self-distilled exits"): deep-soft2 + 150 steps of all-exits with distill.
train deep-soft3.yaml deep-soft3 deep-soft2
echo "== exits of $OUT/deep-soft3 (EXPECTED.md, deep-soft3 ; 10 validation batches)"
nice -n 19 "$M" eval "$OUT/deep-soft3" --batches 10 --out "$OUT/deep-soft3-eval"
# On-policy distilled draft exits (docs/results.md, "On-policy distilled draft exits"): deep-soft2's own greedy
# continuations of 800 prompts as distillation-only text, then 150 steps from deep-soft2.
if [ ! -f "$OUT/deep-soft2/generated.txt" ]; then
  nice -n 19 sh "$HERE/onpolicy-data.sh" "$M" "$OUT/deep-soft2" 800 220
fi
train deep-soft4.yaml deep-soft4 deep-soft2
echo "== exits of $OUT/deep-soft4 (EXPECTED.md, deep-soft4 ; 10 validation batches)"
nice -n 19 "$M" eval "$OUT/deep-soft4" --batches 10 --out "$OUT/deep-soft4-eval"
if [ "$BENCH" = 1 ]; then
  echo "== decode table, 192 new tokens (load $(cut -d' ' -f1-3 /proc/loadavg))"
  sh "$HERE/paper-settings.sh" "$M" "$OUT/deep-soft2" 192 10 --repeat 2 --engine pytorch,onnxruntime
  echo "== decode table of deep-soft3, 128 new tokens (load $(cut -d' ' -f1-3 /proc/loadavg))"
  sh "$HERE/bench-decode.sh" "$M" "$OUT/deep-soft3" 128 5 --engine pytorch,onnxruntime --floor \
    --decoders s2k3=self-speculative,ee40=early-exit --set s2k3.draft=2 --set s2k3.k=3 --set 'ee40.thresholds={2: 0.4, 4: 0.35}'
  echo "== decode table of deep-soft4, 128 new tokens (load $(cut -d' ' -f1-3 /proc/loadavg))"
  sh "$HERE/bench-decode.sh" "$M" "$OUT/deep-soft4" 128 5 --engine pytorch,onnxruntime --floor
fi
