#!/usr/bin/env bash
# rows/s of BatchGenerate and cells/s of LatticeEval on local[1] and local[2], interleaved (order reversed every other round;
# one JVM, a warm-up job per master; the build at nice 10, the timing at normal priority),
# as recorded in docs/results.md. Usage: examples/spark/bench.sh [WORK_DIR] [extra SparkBench options, e.g. --masters local[2],local[1]]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-/tmp/manyfold-spark-bench}; shift || true
mkdir -p "$work"
cd "$root"
nice -n 10 mvn -q -B -pl spark -am compile dependency:build-classpath -Dmdep.outputFile="$work/classpath.txt"
cp="$(cat "$work/classpath.txt"):$root/spark/target/classes"
opens=$(grep -o '<spark.test.opens>[^<]*' spark/pom.xml | sed 's/<spark.test.opens>//')
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE   # one intra-op thread per task, as on an executor with one task per core
java="java -Dai.djl.offline=true -Xmx4g $opens -cp $cp"
[ -d "$work/llama-run" ] || nice -n 19 $java dev.manyfold.runtime.cli.Main train examples/spark/bench-llama.yaml --run-dir "$work/llama-run"
[ -d "$work/mlp-run" ] || nice -n 19 $java dev.manyfold.runtime.cli.Main train examples/spark/bench-mlp.yaml --run-dir "$work/mlp-run"
uptime
$java dev.manyfold.spark.SparkBench "$work/llama-run" --rows 160 --max-new-tokens 16 --eval-run "$work/mlp-run" --eval-batches 20 \
    --work "$work/out" "$@" 2> "$work/bench.log"
uptime
