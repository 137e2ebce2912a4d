#!/bin/sh
# On-policy data for distilling the draft exits (docs/results.md, "On-policy distilled exits"):
# the full model's own greedy continuations of PROMPTS prompts, written as %-separated documents
# for a recipe's data.extra-train. Prompts are the first 16 characters of documents of the
# fortune files the model was pretrained on, not of the fine-tuning files, so no validation
# text is seen. Run from the repository root:
#   sh examples/soft-long/onpolicy-data.sh [MANYFOLD] [RUN] [PROMPTS] [NEW_TOKENS]
# defaults: bundles/target/manyfold/bin/manyfold runs/deep-soft2 800 220; writes RUN/generated.txt
set -e
MANYFOLD=${1:-bundles/target/manyfold/bin/manyfold}
RUN=${2:-runs/deep-soft2}
PROMPTS=${3:-800}
NEW=${4:-220}
FORTUNES=/usr/share/games/fortunes
[ -d "$FORTUNES" ] || { echo "$FORTUNES is missing: apt-get install fortunes" >&2; exit 2; }
files=$(find "$FORTUNES" -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' ! -name computers ! -name linux \
  ! -name linuxcookie ! -name perl ! -name debian | sort)
out="$RUN/onpolicy-prompts.txt"
# Every document of 32+ ASCII characters; its first 16 characters, newlines as spaces; a fixed
# shuffle (awk's seeded rand), the first PROMPTS of it. The reference prompts came from Debian's
# mawk; another awk shuffles differently (other prompts, equally valid data).
# shellcheck disable=SC2086
LC_ALL=C awk 'BEGIN { RS = "\n%\n"; srand(7) }
  { s = $0; sub(/^\n+/, "", s) }
  length(s) >= 32 && s !~ /[^\t\n -~]/ { p = substr(s, 1, 16); gsub(/[\t\n]/, " ", p); printf "%.9f\t%s\n", rand(), p }' $files \
  | sort -n | cut -f2- | head -n "$PROMPTS" > "$out"
echo "$(wc -l < "$out") prompts in $out"
"$MANYFOLD" generate "$RUN" --engine onnxruntime --decoder greedy --prompts-file "$out" --max-new-tokens "$NEW" -o "$RUN/generated.txt"
