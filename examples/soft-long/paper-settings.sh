#!/bin/sh
# Issue 15, point 5: the Sorted LLaMA paper's own decoding settings beside the tuned ones and
# the `draft-confidence` extension, on one model, in one process (docs/results.md, "Sorted
# LLaMA — fidelity round 2"). Run from the repository root after packaging, at normal priority
# (a timing benchmark):
#   sh examples/soft-long/paper-settings.sh bundles/target/manyfold/bin/manyfold runs/deep-soft2 192 10 --repeat 2
# Arguments: launcher, run directory, new tokens per prompt, validation batches for the
# teacher-forced early-exit loss (0: skip), then any extra bench options (--engine ...);
# PROMPTS (default 20) sets the number of prompts.
#
# The paper (40 layers) drafts with layers 12, 16, 20 (0.3, 0.4, 0.5 of the depth) and uses
# the Hugging Face assisted-decoding K (start 4, +2 after a full acceptance, else -1); on the
# 8 layers here those are exits 2, 3, 4. Its early-exit thresholds are
# tau12 = tau16 = 0.95, tau20 = tau24 = 0.9, tau28 = tau32 = 0.8, tau36 = 0.7; exit e of 8
# sits at layer 5e of 40, so exit 2 (10) and 3 (15) get 0.95, exit 4 (20) 0.9, exit 6 (30)
# 0.8. `paper-ee-07` puts every exit at the loosest of the paper's values.
M=$1; RUN=$2; N=$3; EV=$4; shift 4
exec $M bench decode "$RUN" --decoders greedy,\
paper-d2-k4=self-speculative,paper-d3-k4=self-speculative,\
paper-d2-adaptive=self-speculative,paper-d3-adaptive=self-speculative,paper-d4-adaptive=self-speculative,\
conf-d3-k16=self-speculative,conf-d3-adaptive=self-speculative,\
paper-ee=early-exit,paper-ee-07=early-exit,tuned-ee=early-exit,tuned-ee-2-4=early-exit \
  --set paper-d2-k4.draft=2 --set paper-d2-k4.k=4 \
  --set paper-d3-k4.draft=3 --set paper-d3-k4.k=4 \
  --set paper-d2-adaptive.draft=2 --set paper-d2-adaptive.adaptive=true \
  --set paper-d3-adaptive.draft=3 --set paper-d3-adaptive.adaptive=true \
  --set paper-d4-adaptive.draft=4 --set paper-d4-adaptive.adaptive=true \
  --set conf-d3-k16.draft=3 --set conf-d3-k16.k=16 --set conf-d3-k16.draft-confidence=0.4 \
  --set conf-d3-adaptive.draft=3 --set conf-d3-adaptive.adaptive=true --set conf-d3-adaptive.draft-confidence=0.4 \
  --set 'paper-ee.thresholds={2: 0.95, 3: 0.95, 4: 0.9, 6: 0.8}' \
  --set 'paper-ee-07.thresholds={2: 0.7, 3: 0.7, 4: 0.7, 6: 0.7}' \
  --set 'tuned-ee.thresholds={2: 0.5, 3: 0.5, 4: 0.4, 6: 0.3}' \
  --set 'tuned-ee-2-4.thresholds={2: 0.45, 4: 0.35}' \
  --prompts "${PROMPTS:-20}" --max-new-tokens "$N" --eval-batches "$EV" "$@"
