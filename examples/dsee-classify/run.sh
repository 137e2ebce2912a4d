#!/usr/bin/env bash
# Regenerates the "DSEE — classification accuracy" block of docs/results.md (issue 15, point 8).
# Builds the data (fortunes files as classes; held-out test quotes removed from the pre-training
# corpus), pre-trains a tiny LLaMA, tunes LoRA and DSEE arms with the last-token objective over
# paired seeds, and splices integration-tests/target/claims/dsee-classify.md between the markers.
#
#   examples/dsee-classify/run.sh [SEEDS] [PRETRAIN_STEPS] [TUNE_STEPS] [LR]   # defaults: 1,...,8 1500 200 1e-2
#
# Data and the pre-trained model go to integration-tests/target/dsee-classify/ (the pre-trained run is
# reused when present). Needs the bundle: mvn -q -B package -DskipTests. ~1 h on a loaded 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-1,2,3,4,5,6,7,8}"
pretrain="${2:-1500}"
steps="${3:-200}"
lr="${4:-1e-2}"
nice -n 19 mvn -B -o -pl integration-tests -am test -Dtest=DseeClassifyExperiment -Dsurefire.failIfNoSpecifiedTests=false \
    -Ddsee.classify.seeds="$seeds" -Ddsee.classify.pretrain="$pretrain" -Ddsee.classify.steps="$steps" -Ddsee.classify.lr="$lr"
exec examples/splice-results.sh dsee-classify integration-tests/target/claims/dsee-classify.md
