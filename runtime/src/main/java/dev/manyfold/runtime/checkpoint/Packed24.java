package dev.manyfold.runtime.checkpoint;

import static java.util.Objects.requireNonNull;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The packed 2:4 checkpoint format: every 2:4-sparse weight {@code W [out, in]} is stored as
 * two tensors,
 * <pre>
 *   W.packed24.values    [out, in/2]   the two kept values of each group of 4, in column order
 *   W.packed24.pattern   U8 [⌈3·G/8⌉]   G = out·in/4 pattern indices of 3 bits, group g at bits 3g..3g+2
 *                                      (little-endian bit order within the byte stream)
 * </pre>
 * where a pattern index names which 2 of the 4 positions are kept: 0 = {0,1}, 1 = {0,2},
 * 2 = {0,3}, 3 = {1,2}, 4 = {1,3}, 5 = {2,3} (C(4,2) = 6 patterns, so 3 bits suffice; 6 and 7
 * are invalid). All other tensors are stored as they are. The metadata key {@link #METADATA}
 * holds {@link #FORMAT}; {@link Checkpoint#load} unpacks such a file transparently, so every
 * command that reads checkpoints reads packed ones, and unpacking restores the dense 2:4
 * weights bit for bit.
 */
public final class Packed24 {
    /** Metadata key marking a packed file. */
    public static final String METADATA = "packed-format";
    /** Its value. */
    public static final String FORMAT = "packed-2:4";
    static final String VALUES = ".packed24.values";
    static final String PATTERN = ".packed24.pattern";
    /** The kept positions of each pattern index. */
    static final int[][] PATTERNS = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};

    private Packed24() {}

    /** Byte counts of a packed file's tensors against the same tensors stored dense. */
    public record Sizes(long packedBytes, long denseBytes, long packedSparseBytes, long denseSparseBytes, int packedTensors) {
        /** {@code packedBytes / denseBytes}. */
        public double ratio() {
            return denseBytes == 0 ? 1.0 : (double) packedBytes / denseBytes;
        }

        /** The same ratio over the packed (2:4) weights only. */
        public double sparseRatio() {
            return denseSparseBytes == 0 ? 1.0 : (double) packedSparseBytes / denseSparseBytes;
        }
    }

    /** The 3-bit index of the pattern that keeps positions {@code a < b} of a group. */
    static int patternOf(int a, int b) {
        for (int i = 0; i < PATTERNS.length; i++) {
            if (PATTERNS[i][0] == a && PATTERNS[i][1] == b) {
                return i;
            }
        }
        throw new IllegalArgumentException("no pattern keeps positions " + a + " and " + b);
    }

    /**
     * Packs {@code tensors}: each name in {@code masks} (tensor name → its keep mask, row-major,
     * same element count) becomes values + pattern; the rest is copied. A group whose mask keeps
     * fewer than 2 entries is completed with its lowest unkept positions (storing their
     * values, which in a folded 2:4 weight are 0).
     *
     * @throws IllegalArgumentException when a packed tensor is not 2-D with {@code in}
     *     divisible by 4, or a mask keeps more than 2 entries of a group
     */
    public static Map<String, Tensor> pack(Map<String, Tensor> tensors, Map<String, boolean[]> masks) {
        requireNonNull(tensors, "tensors is null");
        requireNonNull(masks, "masks is null");
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Tensor t : tensors.values()) {
            boolean[] keep = masks.get(t.name());
            if (keep == null) {
                out.put(t.name(), t);
                continue;
            }
            long[] shape = t.shape();
            if (shape.length != 2 || shape[1] % 4 != 0) {
                throw new IllegalArgumentException("tensor " + t.name() + " " + Arrays.toString(shape)
                        + " cannot be packed 2:4: it must be [out, in] with in divisible by 4");
            }
            if (keep.length != t.elementCount()) {
                throw new IllegalArgumentException("mask of " + t.name() + " has " + keep.length + " entries, the tensor "
                        + t.elementCount());
            }
            int width = t.dtype().byteSize();
            ByteBuffer src = t.data();
            int groups = Math.toIntExact(t.elementCount() / 4);
            byte[] values = new byte[groups * 2 * width];
            byte[] pattern = new byte[(3 * groups + 7) / 8];
            for (int g = 0; g < groups; g++) {
                int[] kept = new int[2];
                int count = 0;
                for (int p = 0; p < 4; p++) {
                    if (keep[4 * g + p]) {
                        if (count == 2) {
                            throw new IllegalArgumentException("tensor " + t.name() + ": group " + g + " (row " + (4L * g / shape[1])
                                    + ") keeps more than 2 of 4 entries; it is not 2:4 sparse");
                        }
                        kept[count++] = p;
                    }
                }
                for (int p = 0; count < 2 && p < 4; p++) {
                    if (!keep[4 * g + p]) {
                        kept[count++] = p;
                    }
                }
                Arrays.sort(kept);
                int index = patternOf(kept[0], kept[1]);
                for (int bit = 0; bit < 3; bit++) {
                    if ((index >> bit & 1) != 0) {
                        int at = 3 * g + bit;
                        pattern[at >> 3] |= (byte) (1 << (at & 7));
                    }
                }
                for (int k = 0; k < 2; k++) {
                    for (int b = 0; b < width; b++) {
                        values[(2 * g + k) * width + b] = src.get((4 * g + kept[k]) * width + b);
                    }
                }
            }
            String v = t.name() + VALUES;
            String p = t.name() + PATTERN;
            out.put(v, Tensor.of(v, t.dtype(), new long[] {shape[0], shape[1] / 2}, values));
            out.put(p, Tensor.of(p, DType.U8, new long[] {pattern.length}, pattern));
        }
        return out;
    }

    /**
     * Restores the dense tensors of a packed set: each {@code W.packed24.values} and
     * {@code W.packed24.pattern} pair becomes {@code W [out, 2·values.cols]} with zeros at the
     * pruned positions; other tensors are copied.
     *
     * @throws CheckpointException when a pair is incomplete or a pattern is invalid
     */
    public static Map<String, Tensor> unpack(Map<String, Tensor> tensors) {
        requireNonNull(tensors, "tensors is null");
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Tensor t : tensors.values()) {
            String name = t.name();
            if (name.endsWith(PATTERN)) {
                if (!tensors.containsKey(name.substring(0, name.length() - PATTERN.length()) + VALUES)) {
                    throw new CheckpointException("packed tensor " + name + " has no " + VALUES + " partner");
                }
                continue;
            }
            if (!name.endsWith(VALUES)) {
                out.put(name, t);
                continue;
            }
            String base = name.substring(0, name.length() - VALUES.length());
            Tensor patternTensor = tensors.get(base + PATTERN);
            if (patternTensor == null) {
                throw new CheckpointException("packed tensor " + name + " has no " + PATTERN + " partner");
            }
            long[] shape = t.shape();
            if (shape.length != 2) {
                throw new CheckpointException("packed tensor " + name + " must be 2-D, got " + Arrays.toString(shape));
            }
            int width = t.dtype().byteSize();
            int groups = Math.toIntExact(t.elementCount() / 2);
            ByteBuffer values = t.data();
            ByteBuffer pattern = patternTensor.data();
            if (patternTensor.dtype() != DType.U8 || patternTensor.byteSize() != (3L * groups + 7) / 8) {
                throw new CheckpointException("packed tensor " + base + PATTERN + " must be U8 of " + ((3L * groups + 7) / 8)
                        + " bytes for " + groups + " groups, got " + patternTensor.dtype() + " " + patternTensor.byteSize());
            }
            byte[] dense = new byte[groups * 4 * width];
            for (int g = 0; g < groups; g++) {
                int index = 0;
                for (int bit = 0; bit < 3; bit++) {
                    int at = 3 * g + bit;
                    if ((pattern.get(at >> 3) >> (at & 7) & 1) != 0) {
                        index |= 1 << bit;
                    }
                }
                if (index >= PATTERNS.length) {
                    throw new CheckpointException("packed tensor " + base + ": group " + g + " has invalid pattern index " + index);
                }
                for (int k = 0; k < 2; k++) {
                    int p = PATTERNS[index][k];
                    for (int b = 0; b < width; b++) {
                        dense[(4 * g + p) * width + b] = values.get((2 * g + k) * width + b);
                    }
                }
            }
            out.put(base, Tensor.of(base, t.dtype(), new long[] {shape[0], shape[1] * 2}, dense));
        }
        return out;
    }

    /**
     * AST Appendix 6.1: the size of n:2n-sparse weights stored as n values of {@code valueBits}
     * plus a fixed-length pattern index of ⌈log2 C(2n, n)⌉ bits per group of 2n, relative to
     * 2n dense values of {@code denseBits}: {@code [valueBits·n + ⌈log2 C(2n,n)⌉] / (denseBits·2n)}.
     * 2:4 with 4-bit values against FP32 gives 11/128; this file format (F32 values) 67/128.
     */
    public static double compression(int n, int valueBits, int denseBits) {
        if (n < 1 || valueBits < 1 || denseBits < 1) {
            throw new IllegalArgumentException("n, valueBits and denseBits must be ≥ 1");
        }
        double choose = 1;
        for (int i = 1; i <= n; i++) {
            choose = choose * (n + i) / i;
        }
        int indexBits = (int) Math.ceil(Math.log(choose) / Math.log(2) - 1e-9);
        return (double) (valueBits * n + indexBits) / (denseBits * 2.0 * n);
    }

    /** Whether a checkpoint's metadata marks it as packed. */
    public static boolean isPacked(Map<String, String> metadata) {
        return FORMAT.equals(metadata.get(METADATA));
    }

    /** The checkpoint with its packed tensors unpacked (itself when it is not packed). */
    public static Checkpoint unpackIfPacked(Checkpoint checkpoint) {
        if (!isPacked(checkpoint.metadata())) {
            return checkpoint;
        }
        return new Checkpoint(checkpoint.file(), unpack(checkpoint.tensors()), checkpoint.metadata());
    }

    /** Sizes of a packed tensor set against its unpacked (dense) form, in bytes of tensor data. */
    public static Sizes sizes(Map<String, Tensor> packed) {
        long packedBytes = 0;
        long denseBytes = 0;
        long packedSparse = 0;
        long denseSparse = 0;
        int count = 0;
        for (Tensor t : packed.values()) {
            packedBytes += t.byteSize();
            if (t.name().endsWith(VALUES)) {
                denseBytes += 2 * t.byteSize();
                denseSparse += 2 * t.byteSize();
                packedSparse += t.byteSize();
                count++;
            } else if (t.name().endsWith(PATTERN)) {
                packedSparse += t.byteSize();
            } else {
                denseBytes += t.byteSize();
            }
        }
        return new Sizes(packedBytes, denseBytes, packedSparse, denseSparse, count);
    }
}
