#!/usr/bin/env bash
# Regenerates the "AST — flip rates from a pretrained start" block of docs/results.md (issue 15, point 11):
# annealed vs constant decay under cosine and constant learning rates, the three decay placements
# (in-adam, after-step, in-gradient), and one-shot magnitude / Wanda 2:4 with and without a short
# retraining, over paired seeds (integration-tests/.../AstFlipExperiment.java).
#
#   examples/ast/flip-pretrained.sh [SEEDS] [PRETRAIN_STEPS] [STEPS] [SHORT_STEPS]   # defaults: 11,...,15 1000 200 50
#
# The pretrained model goes to integration-tests/target/ast-flips/ and is reused when present.
# Needs the bundle: mvn -q -B package -DskipTests. ~20 min on a loaded 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-11,12,13,14,15}"
pretrain="${2:-1000}"
steps="${3:-200}"
short="${4:-50}"
nice -n 19 mvn -B -o -pl integration-tests -am test -Dtest=AstFlipExperiment -Dsurefire.failIfNoSpecifiedTests=false \
    -Dast.flips.seeds="$seeds" -Dast.flips.pretrain="$pretrain" -Dast.flips.steps="$steps" -Dast.flips.short="$short"
exec examples/splice-results.sh ast-flips integration-tests/target/claims/ast-flips.md
