#!/bin/sh
# The adaptive-decoding benchmark of docs/results.md ("Adaptive decoding"), run from the
# repository root after packaging:
#   sh examples/soft-long/bench-decode.sh bundles/target/manyfold/bin/manyfold runs/deep-soft2 192 10 --repeat 2
# Arguments: launcher, run directory, new tokens per prompt, validation batches for the
# teacher-forced early-exit loss (0: skip), then any extra bench options.
M=$1; RUN=$2; N=$3; EV=$4; shift 4
$M bench decode "$RUN" --decoders greedy,spec-k4=self-speculative,spec-k8=self-speculative,spec-adaptive=self-speculative,spec3-conf=self-speculative,spec3-adaptive-conf=self-speculative,early-exit=early-exit,early-exit-2-4=early-exit,ee-max4=early-exit,depth-4=early-exit \
  --set spec-k4.draft=2 --set spec-k4.k=4 --set spec-k8.draft=2 --set spec-k8.k=8 --set spec-adaptive.draft=2 --set spec-adaptive.adaptive=true \
  --set spec3-conf.draft=3 --set spec3-conf.k=16 --set spec3-conf.draft-confidence=0.4 \
  --set spec3-adaptive-conf.draft=3 --set spec3-adaptive-conf.adaptive=true --set spec3-adaptive-conf.draft-confidence=0.4 \
  --set 'early-exit.thresholds={2: 0.5, 3: 0.5, 4: 0.4, 6: 0.3}' --set 'early-exit-2-4.thresholds={2: 0.45, 4: 0.35}' \
  --set 'ee-max4.thresholds={2: 0.55}' --set ee-max4.max-depth=4 --set 'depth-4.thresholds={}' --set depth-4.max-depth=4 \
  --prompts 20 --max-new-tokens "$N" --eval-batches "$EV" "$@"
