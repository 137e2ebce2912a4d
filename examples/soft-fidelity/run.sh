#!/usr/bin/env bash
# Regenerates the SoFT tables of "Sorted LLaMA — fidelity round 2" in docs/results.md (issue 15,
# points 6, 7, 12): SFT, SoFT, SFT+ICT and extracted fine-tuning over paired seeds with KL / cosine
# by token position, then SoFT vs SFT on instruction data (loss on answers only). Trains every arm
# through the launcher (integration-tests/.../SoftExperiment.java) at nice 19, then splices the
# Markdown it writes (integration-tests/target/claims/soft-fidelity.md) between the section's markers.
#
#   examples/soft-fidelity/run.sh [SEEDS] [PARTS]      # defaults: 2,3,4,5,6 text,instructions
#
# Runs go to integration-tests/target/soft-experiment/{text,instructions}/ and are reused when
# present (delete a run directory to retrain it). Needs the bundle: mvn -q -B package -DskipTests.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-2,3,4,5,6}"
parts="${2:-text,instructions}"
nice -n 19 mvn -B -o -q -pl integration-tests -am test -Dtest=SoftExperiment -Dsurefire.failIfNoSpecifiedTests=false \
    -Dsoft.seeds="$seeds" -Dsoft.parts="$parts"
examples/splice-results.sh soft-fidelity integration-tests/target/claims/soft-fidelity.md
