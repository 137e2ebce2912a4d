#!/usr/bin/env bash
# Regenerates the "SortedNet — the CNN setting with BatchNorm" section of docs/results.md (issue 15, point 2):
# normal training, SortedNet Eq. 1, US-Nets (sandwich + in-place distillation), a slimmable network (switchable
# BN), and SortedNet and normal training given 4x the steps (as many forward/backward passes as US-Nets and
# slimmable) on the same BN CNN, paired by seed (integration-tests/.../SortedNetCnnExperiment.java). Splices the Markdown it writes
# (integration-tests/target/claims/sortednet-cnn.md) between the section's markers and copies the plot to
# docs/sortednet-cnn.png.
#
#   examples/sortednet-cnn/run.sh [SEEDS] [STEPS] [LR] [WARMUP]   # defaults: 42,43,44 1000 1e-2 100 (batch 64)
#
# Runs go to integration-tests/target/sortednet-cnn/s<STEPS>-lr<LR>-w<WARMUP>/<arm>-<seed>/ and are reused when
# present (delete the directory to retrain). Needs the bundle: mvn -q -B package -DskipTests. Long (three seeds
# at 1000 steps as three concurrent invocations: ~50 min for the six arms on the shared 2-core machine): run it as
# nice -n 19, or run the seeds concurrently with -Dcnn.seeds=S -Dcnn.report=false and assemble the report with
# -Dcnn.seeds=42,43,44 -Dcnn.wait=true (docs/results.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-42,43,44}"
steps="${2:-1000}"
lr="${3:-1e-2}"
warmup="${4:-100}"
mvn -B -o -q -pl integration-tests -am test -Dtest=SortedNetCnnExperiment -Dsurefire.failIfNoSpecifiedTests=false \
    -Dcnn.seeds="$seeds" -Dcnn.steps="$steps" -Dcnn.lr="$lr" -Dcnn.warmup="$warmup"
examples/splice-results.sh sortednet-cnn integration-tests/target/claims/sortednet-cnn.md
cp integration-tests/target/claims/sortednet-cnn.png docs/sortednet-cnn.png
echo "updated docs/sortednet-cnn.png"
