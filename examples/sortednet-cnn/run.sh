#!/usr/bin/env bash
# Regenerates the "SortedNet — the CNN setting with BatchNorm" section of docs/results.md (issue 15, point 2):
# normal training, SortedNet Eq. 1, US-Nets (sandwich + in-place distillation) and a slimmable network (switchable
# BN) on the same BN CNN, paired by seed (integration-tests/.../SortedNetCnnExperiment.java). Splices the Markdown
# it writes (integration-tests/target/claims/sortednet-cnn.md) between the section's markers and copies the
# four-curve plot to docs/sortednet-cnn.png.
#
#   examples/sortednet-cnn/run.sh [SEEDS] [STEPS]      # defaults: 42,43,44 200 (batch 64)
#
# Runs go to integration-tests/target/sortednet-cnn/<arm>-<seed>/ and are reused when present (delete the
# directory to retrain). Needs the bundle: mvn -q -B package -DskipTests. Long: run it as nice -n 19.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-42,43,44}"
steps="${2:-200}"
mvn -B -o -q -pl integration-tests -am test -Dtest=SortedNetCnnExperiment -Dsurefire.failIfNoSpecifiedTests=false \
    -Dcnn.seeds="$seeds" -Dcnn.steps="$steps"
examples/splice-results.sh sortednet-cnn integration-tests/target/claims/sortednet-cnn.md
cp integration-tests/target/claims/sortednet-cnn.png docs/sortednet-cnn.png
echo "updated docs/sortednet-cnn.png"
