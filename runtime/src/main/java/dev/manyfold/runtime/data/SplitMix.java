package dev.manyfold.runtime.data;

/**
 * SplitMix64: a tiny, fully specified generator, so that shuffles and windows are the same
 * on every JVM. Independent streams are derived from (seed, purpose, index), which makes
 * anything drawn from a stream a pure function of those three numbers.
 */
final class SplitMix {
    static final long SPLIT = 1;
    static final long EPOCH = 2;
    static final long WINDOW = 3;
    static final long SAMPLE = 4;

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private long state;

    SplitMix(long seed) {
        this.state = seed;
    }

    /** The stream for one purpose and index under a seed. */
    static SplitMix stream(long seed, long purpose, long index) {
        return new SplitMix(mix(mix(seed + purpose * GOLDEN) ^ (index * 0xD1B54A32D192ED03L + purpose)));
    }

    long nextLong() {
        state += GOLDEN;
        return mix(state);
    }

    /** Uniform in {@code [0, bound)}, without modulo bias. */
    int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("bound must be positive, got " + bound);
        }
        int r = (int) (nextLong() >>> 33);
        int m = bound - 1;
        if ((bound & m) == 0) {
            return (int) ((bound * (long) r) >> 31);
        }
        for (int u = r; u - (r = u % bound) + m < 0; u = (int) (nextLong() >>> 33)) {
            // rejection: retry the rare draws that would bias the result
        }
        return r;
    }

    /** A uniformly random permutation of {@code 0..size-1} (Fisher–Yates). */
    int[] permutation(int size) {
        int[] p = new int[size];
        for (int i = 0; i < size; i++) {
            p[i] = i;
        }
        for (int i = size - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
