package dev.manyfold.runtime.model;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import java.lang.management.ManagementFactory;
import java.util.Locale;

/**
 * Size checks made before anything is allocated: every tensor must fit in one Java array
 * (at most {@link #MAX_TENSOR} values) and the estimated memory must fit in the machine's.
 * Estimates are float32 bytes; they name the recipe key to shrink.
 */
public final class Footprint {
    /** The most values one tensor may hold (the largest Java array). */
    public static final long MAX_TENSOR = Integer.MAX_VALUE - 8;

    private Footprint() {}

    /** One model's sizes before it is built. */
    public record Sizes(long parameters, String largestTensor, long[] largestShape, String key) {
        long largest() {
            long n = 1;
            for (long d : largestShape) {
                n *= d;
            }
            return n;
        }
    }

    /** Builds {@link Sizes} tensor by tensor: the largest one is remembered with the key that sizes it. */
    static final class Counter {
        private long parameters;
        private String name = "";
        private long[] shape = {0};
        private long largest = -1;
        private String key = "";

        /** {@code count} tensors of shape {@code [rows, cols]}. */
        Counter add(String tensor, String sizedBy, long count, long rows, long cols) {
            long n = rows * cols;
            parameters += count * n;
            if (count > 0 && n > largest) {
                largest = n;
                name = tensor;
                shape = new long[] {rows, cols};
                key = sizedBy;
            }
            return this;
        }

        Counter table(String tensor, String sizedBy, long rows, long cols) {
            long before = parameters;
            add(tensor, sizedBy, 1, rows, cols);
            parameters = before; // constants: sized, but not parameters
            return this;
        }

        Sizes sizes() {
            return new Sizes(parameters, name, shape, key);
        }
    }

    /** The machine's physical memory in bytes (the JVM's max heap when that is unknown). */
    public static long machineMemory() {
        try {
            var os = ManagementFactory.getOperatingSystemMXBean();
            if (os instanceof com.sun.management.OperatingSystemMXBean sun && sun.getTotalMemorySize() > 0) {
                return sun.getTotalMemorySize();
            }
        } catch (RuntimeException | LinkageError ignored) {
            // fall back below
        }
        return Runtime.getRuntime().maxMemory();
    }

    /**
     * Refuses a model whose largest tensor cannot be one array, or whose weights alone
     * ({@code bytesPerParameter} each) exceed the machine's memory.
     */
    static void check(Settings s, Sizes sizes, long bytesPerParameter) {
        if (sizes.largest() > MAX_TENSOR) {
            throw s.invalid(sizes.key(), String.format(Locale.ROOT, "tensor %s %s would hold %,d values, more than one tensor can (%,d)",
                    sizes.largestTensor(), java.util.Arrays.toString(sizes.largestShape()), sizes.largest(), MAX_TENSOR),
                    "a smaller " + sizes.key());
        }
        long bytes = sizes.parameters() * bytesPerParameter;
        long memory = machineMemory();
        if (bytes > memory) {
            throw s.invalid(sizes.key(), String.format(Locale.ROOT, "%,d parameters need about %s, more than this machine's %s of memory",
                    sizes.parameters(), gb(bytes), gb(memory)), "a smaller " + sizes.key());
        }
    }

    /**
     * Refuses training that is estimated not to fit: weights, gradients and two AdamW moments
     * (16 bytes a parameter) plus the activations of one micro-batch kept for backward.
     *
     * @param activations floats of one micro-batch's activations
     */
    public static void checkTraining(long parameters, long activations, int batch, String family) {
        long weights = parameters * 16;
        long acts = activations * 4 * 2; // forward values and their gradients
        long memory = machineMemory();
        if (weights + acts > memory) {
            String estimate = String.format(Locale.ROOT, "training needs about %s (%,d parameters × 16 bytes = %s, activations of "
                    + "batch %d = %s), more than this machine's %s of memory", gb(weights + acts), parameters, gb(weights), batch,
                    gb(acts), gb(memory));
            if (acts > weights) {
                throw new ConfigException("train.batch", estimate, "a smaller train.batch (with train.accumulate for the same "
                        + "effective batch)" + (family.equals("llama") ? " or a smaller model.context" : ""));
            }
            throw new ConfigException("model", estimate, "a smaller model");
        }
    }

    static String gb(long bytes) {
        return String.format(Locale.ROOT, "%.1f GB", bytes / 1e9);
    }
}
