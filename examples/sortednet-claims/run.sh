#!/usr/bin/env bash
# Regenerates the "SortedNet — fidelity round 2" section of docs/results.md (issue 15, points 1, 3, 4, 12).
# Trains every arm in-process for each seed (integration-tests/.../SortedNetExperiment.java), then splices
# the Markdown it writes (integration-tests/target/claims/sortednet-fidelity.md) between the section's markers.
#
#   examples/sortednet-claims/run.sh [SEEDS] [STEPS] [HEAD_STEPS]      # defaults: 42,43,44 1200 300
#
# Runs go to integration-tests/target/sortednet-experiment/<arm>-<seed>/ and are reused when present
# (delete the directory to retrain). Needs the bundle: mvn -q -B package -DskipTests.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-42,43,44}"
steps="${2:-1200}"
head_steps="${3:-300}"
mvn -B -o -q -pl integration-tests -am test -Dtest=SortedNetExperiment -Dsurefire.failIfNoSpecifiedTests=false \
    -Dsortednet.seeds="$seeds" -Dsortednet.steps="$steps" -Dsortednet.head-steps="$head_steps"
examples/splice-results.sh sortednet-fidelity integration-tests/target/claims/sortednet-fidelity.md
