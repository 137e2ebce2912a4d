#!/bin/sh
# Rebuilds manyfold-api-1.0.0.jar, the baseline of the API compatibility gate (japicmp in
# api/pom.xml), from the API sources of the last commit before API 1.1 — offline, from git
# history only. Run from the repository root: sh api/compat/build-api-1.0-jar.sh
set -eu
BASE=86d20ee   # last commit with ApiVersion.CURRENT = "1.0.0"
DJL=${DJL_API_JAR:-$HOME/.m2/repository/ai/djl/api/0.36.0/api-0.36.0.jar}
work=$(mktemp -d)
git archive "$BASE" api/src/main/java | tar -x -C "$work"
mkdir "$work/classes"
javac --release 17 -proc:none -d "$work/classes" -cp "$DJL" $(find "$work/api/src/main/java" -name '*.java')
(cd "$work/classes" && jar --create --file "$OLDPWD/api/compat/manyfold-api-1.0.0.jar" --date=2026-01-01T00:00:00Z .)
rm -rf "$work"
echo "wrote api/compat/manyfold-api-1.0.0.jar from $BASE"
