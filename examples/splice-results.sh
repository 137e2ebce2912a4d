#!/usr/bin/env bash
# Replaces the lines between <!-- NAME:begin --> and <!-- NAME:end --> in docs/results.md with FILE.
#   examples/splice-results.sh NAME FILE
set -euo pipefail
cd "$(dirname "$0")/.."
name="$1"
generated="$2"
begin="<!-- $name:begin -->"
end="<!-- $name:end -->"
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
