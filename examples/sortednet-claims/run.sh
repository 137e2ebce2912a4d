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
generated=integration-tests/target/claims/sortednet-fidelity.md
begin='<!-- sortednet-fidelity:begin -->'
end='<!-- sortednet-fidelity:end -->'
if ! grep -qF "$begin" docs/results.md; then
    echo "docs/results.md has no '$begin' marker" >&2
    exit 2
fi
awk -v begin="$begin" -v end="$end" -v file="$generated" '
    $0 == begin { print; while ((getline line < file) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }
' docs/results.md > docs/results.md.tmp
mv docs/results.md.tmp docs/results.md
echo "updated docs/results.md from $generated"
