package dev.manyfold.runtime.onnx;

import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.Model;
import java.util.List;

/**
 * The memory floor of decoding: the bytes of weights one full-model token reads, divided by a
 * read bandwidth measured here over a buffer of the same size (so the buffer sits in the same
 * cache level the weights would). A decode whose CPU time per token is k× this floor spends
 * (k − 1)/k of it on something other than reading weights.
 */
public final class MemoryFloor {
    private MemoryFloor() {}

    /** F32 bytes of weights one full-model token reads: every layer, the final norm, the LM head and one embedding row. */
    public static long weightBytesPerToken(Model model) {
        if (!(model instanceof LlamaModel m)) {
            throw new IllegalArgumentException("the memory floor is computed for LLaMA models, not " + model.family());
        }
        long d = m.dim();
        long hd = m.headDim();
        int group = m.heads() / m.kvHeads();
        long params = 0;
        long ffn = ((Number) m.config().get("ffn")).longValue();
        List<Integer> heads = m.layerHeads();
        for (int h : heads) {
            long kv = h / group;
            params += d * (h + 2 * kv) * hd + h * hd * d + 3 * d * ffn + 2 * d;
        }
        params += d + d * m.vocabularySize() + d;
        return 4 * params;
    }

    /**
     * Best read bandwidth in bytes per CPU-second of this thread over {@code bytes} of ints,
     * summed repeatedly for about {@code millis} ms of CPU time (CPU, not wall, time: on a
     * shared machine the thread is often off the core). The sum is compiled on a small array
     * first.
     */
    public static double readBandwidth(long bytes, long millis) {
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        long sink = 0;
        int[] small = new int[1 << 14];
        for (int i = 0; i < 20_000; i++) {
            sink += sum(small);
        }
        int[] a = new int[(int) Math.min(Integer.MAX_VALUE - 8, Math.max(1024, bytes / 4))];
        for (int i = 0; i < a.length; i++) {
            a[i] = i;
        }
        // Two readers, the faster counts: an int sum (vectorized by C2 only) and System.arraycopy
        // (a copy stub under every JIT; it reads the source once and writes as much).
        int[] copy = new int[a.length];
        double best = Double.MAX_VALUE;
        long end = cpu.getCurrentThreadCpuTime() + millis * 1_000_000;
        int passes = 0;
        while (passes < 5 || cpu.getCurrentThreadCpuTime() < end) {
            long t0 = cpu.getCurrentThreadCpuTime();
            if (passes % 2 == 0) {
                sink += sum(a);
            } else {
                System.arraycopy(a, 0, copy, 0, a.length);
                sink += copy[passes % copy.length];
            }
            best = Math.min(best, cpu.getCurrentThreadCpuTime() - t0);
            passes++;
        }
        if (sink == 42) {
            System.out.print(""); // keeps the sums alive
        }
        return 4.0 * a.length / (Math.max(1, best) / 1e9);
    }

    /** An int sum the JIT vectorizes: a read of the whole array. */
    private static long sum(int[] a) {
        int s0 = 0;
        for (int x : a) {
            s0 += x;
        }
        return s0;
    }
}
