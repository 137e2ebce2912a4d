// Thread CPU time of one batched decode step (LlamaModel.forwardBatch) by batch size, against a
// single session's step, on a random model shaped like examples/soft-long (6 layers, dim 128,
// 4 heads, ffn 352, context 256). From the repository root after packaging:
//   OMP_WAIT_POLICY=PASSIVE JAVA_TOOL_OPTIONS="-Dai.djl.offline=true -XX:+UseSerialGC -XX:TieredStopAtLevel=1" \
//     jshell --class-path "$(ls bundles/target/manyfold/lib/*.jar | tr '\n' ':')" examples/serve/batched-step.jsh
import ai.djl.ndarray.*; import dev.manyfold.runtime.model.*; import dev.manyfold.api.decoder.*; import java.util.*;
var m = NDManager.newBaseManager("PyTorch");
var model = new LlamaModel(new ParameterStore(m, 7), new LlamaModel.Config(256, 128, 6, 4, 4, 32, 352, 256, false, 10000, 1e-5, 255));
var bean = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
for (int b : new int[]{1, 1, 2, 4, 8, 16, 1, 4, 16}) {
  List<InferenceSession> ss = new ArrayList<>();
  int[] tokens = new int[b]; int[] starts = new int[b];
  for (int r = 0; r < b; r++) { var s = model.open(m); s.forward(new int[]{1,2,3,4,5,6,7,8,9,10}, 0, 6, m); ss.add(s); starts[r] = 10; tokens[r] = 3 + r; }
  int steps = 60;
  long c0 = bean.getCurrentThreadCpuTime(); long t0 = System.nanoTime();
  for (int i = 0; i < steps; i++) {
    try (var sc = m.newSubManager()) { ((BatchedDecoding) model).forwardBatch(ss, tokens, starts, 6, sc); }
    for (int r = 0; r < b; r++) starts[r]++;
  }
  long c1 = bean.getCurrentThreadCpuTime(); long t1 = System.nanoTime();
  // single path for comparison
  var one = model.open(m); one.forward(new int[]{1,2,3,4,5,6,7,8,9,10}, 0, 6, m);
  long c2 = bean.getCurrentThreadCpuTime();
  for (int i = 0; i < steps; i++) { try (var sc = m.newSubManager()) { one.forward(new int[]{3}, 10 + i, 6, sc); } }
  long c3 = bean.getCurrentThreadCpuTime();
  System.out.printf("B=%d batched step: %.2f ms thread-CPU (%.2f wall), %.3f ms/row; single step %.2f ms%n", b, (c1-c0)/1e6/steps, (t1-t0)/1e6/steps, (c1-c0)/1e6/steps/b, (c3-c2)/1e6/steps);
  for (var s : ss) s.close(); one.close();
}
/exit
