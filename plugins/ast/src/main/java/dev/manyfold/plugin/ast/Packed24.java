package dev.manyfold.plugin.ast;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.export.ExportFormat;
import dev.manyfold.api.export.ExportFormatFactory;
import dev.manyfold.api.export.StoredTensor;
import java.util.Arrays;
import java.util.List;
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
 * are invalid). All other tensors are stored as they are. The host records the format under
 * {@link ExportFormat#METADATA} and unpacks such a file whenever it reads it (while this
 * plugin is loaded), so every command that reads checkpoints reads packed ones, and unpacking
 * restores the dense 2:4 weights bit for bit.
 *
 * <p>Contributed as two export formats ({@link #factories()}): {@code 2:4}, the exact 2:4
 * weights stored dense (checked to keep at most 2 of every 4), and {@code packed-2:4}.
 */
public final class Packed24 {
    /** The packed format's name (and its value under {@link ExportFormat#METADATA}). */
    public static final String FORMAT = "packed-2:4";
    /** The exact, unpacked 2:4 format's name. */
    public static final String EXACT = "2:4";
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
    public static Map<String, StoredTensor> pack(Map<String, StoredTensor> tensors, Map<String, boolean[]> masks) {
        requireNonNull(tensors, "tensors is null");
        requireNonNull(masks, "masks is null");
        Map<String, StoredTensor> out = new LinkedHashMap<>();
        for (StoredTensor t : tensors.values()) {
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
            int width = t.width();
            byte[] src = t.data();
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
                        values[(2 * g + k) * width + b] = src[(4 * g + kept[k]) * width + b];
                    }
                }
            }
            String v = t.name() + VALUES;
            String p = t.name() + PATTERN;
            out.put(v, new StoredTensor(v, t.dtype(), new long[] {shape[0], shape[1] / 2}, values));
            out.put(p, new StoredTensor(p, "U8", new long[] {pattern.length}, pattern));
        }
        return out;
    }

    /**
     * Restores the dense tensors of a packed set: each {@code W.packed24.values} and
     * {@code W.packed24.pattern} pair becomes {@code W [out, 2·values.cols]} with zeros at the
     * pruned positions; other tensors are copied.
     *
     * @throws IllegalArgumentException when a pair is incomplete or a pattern is invalid
     */
    public static Map<String, StoredTensor> unpack(Map<String, StoredTensor> tensors) {
        requireNonNull(tensors, "tensors is null");
        Map<String, StoredTensor> out = new LinkedHashMap<>();
        for (StoredTensor t : tensors.values()) {
            String name = t.name();
            if (name.endsWith(PATTERN)) {
                if (!tensors.containsKey(name.substring(0, name.length() - PATTERN.length()) + VALUES)) {
                    throw new IllegalArgumentException("packed tensor " + name + " has no " + VALUES + " partner");
                }
                continue;
            }
            if (!name.endsWith(VALUES)) {
                out.put(name, t);
                continue;
            }
            String base = name.substring(0, name.length() - VALUES.length());
            StoredTensor patternTensor = tensors.get(base + PATTERN);
            if (patternTensor == null) {
                throw new IllegalArgumentException("packed tensor " + name + " has no " + PATTERN + " partner");
            }
            long[] shape = t.shape();
            if (shape.length != 2) {
                throw new IllegalArgumentException("packed tensor " + name + " must be 2-D, got " + Arrays.toString(shape));
            }
            int width = t.width();
            int groups = Math.toIntExact(t.elementCount() / 2);
            byte[] values = t.data();
            byte[] pattern = patternTensor.data();
            if (!patternTensor.dtype().equals("U8") || pattern.length != (3L * groups + 7) / 8) {
                throw new IllegalArgumentException("packed tensor " + base + PATTERN + " must be U8 of " + ((3L * groups + 7) / 8)
                        + " bytes for " + groups + " groups, got " + patternTensor.dtype() + " " + pattern.length);
            }
            byte[] dense = new byte[groups * 4 * width];
            for (int g = 0; g < groups; g++) {
                int index = 0;
                for (int bit = 0; bit < 3; bit++) {
                    int at = 3 * g + bit;
                    if ((pattern[at >> 3] >> (at & 7) & 1) != 0) {
                        index |= 1 << bit;
                    }
                }
                if (index >= PATTERNS.length) {
                    throw new IllegalArgumentException("packed tensor " + base + ": group " + g + " has invalid pattern index " + index);
                }
                for (int k = 0; k < 2; k++) {
                    int p = PATTERNS[index][k];
                    for (int b = 0; b < width; b++) {
                        dense[(4 * g + p) * width + b] = values[(2 * g + k) * width + b];
                    }
                }
            }
            out.put(base, new StoredTensor(base, t.dtype(), new long[] {shape[0], shape[1] * 2}, dense));
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

    /** Sizes of a packed tensor set against its unpacked (dense) form, in bytes of tensor data. */
    public static Sizes sizes(Map<String, StoredTensor> packed) {
        long packedBytes = 0;
        long denseBytes = 0;
        long packedSparse = 0;
        long denseSparse = 0;
        int count = 0;
        for (StoredTensor t : packed.values()) {
            long bytes = t.data().length;
            packedBytes += bytes;
            if (t.name().endsWith(VALUES)) {
                denseBytes += 2 * bytes;
                denseSparse += 2 * bytes;
                packedSparse += bytes;
                count++;
            } else if (t.name().endsWith(PATTERN)) {
                packedSparse += bytes;
            } else {
                denseBytes += bytes;
            }
        }
        return new Sizes(packedBytes, denseBytes, packedSparse, denseSparse, count);
    }

    /** The {@code 2:4} and {@code packed-2:4} export formats. */
    static List<ExportFormatFactory> factories() {
        return List.of(factory(EXACT, "exact 2:4 weights stored dense (mask folded in, at most 2 of every 4 kept)", new Exact()),
                factory(FORMAT, "2:4 weights as their kept values + a 3-bit pattern index per group of 4", new Packed()));
    }

    private static ExportFormatFactory factory(String name, String description, ExportFormat format) {
        return new ExportFormatFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public String description() {
                return description;
            }

            @Override
            public ExportFormat create(dev.manyfold.api.Settings settings, dev.manyfold.api.Context context) {
                return format;
            }
        };
    }

    /** {@code 2:4}: the folded weights as they are, after checking they are 2:4. */
    private static final class Exact implements ExportFormat {
        @Override
        public Map<String, StoredTensor> pack(Map<String, StoredTensor> tensors, Map<String, boolean[]> masks) {
            Packed24.pack(tensors, masks); // validates shapes and 2-of-4 groups
            return tensors;
        }
    }

    /** {@code packed-2:4}. */
    private static final class Packed implements ExportFormat {
        @Override
        public Map<String, StoredTensor> pack(Map<String, StoredTensor> tensors, Map<String, boolean[]> masks) {
            return Packed24.pack(tensors, masks);
        }

        @Override
        public boolean needsUnpack() {
            return true;
        }

        @Override
        public Map<String, StoredTensor> unpack(Map<String, StoredTensor> stored) {
            return Packed24.unpack(stored);
        }

        @Override
        public long maskedBytes(Map<String, StoredTensor> stored, java.util.Set<String> maskedWeights) {
            return sizes(stored).packedSparseBytes();
        }
    }
}
