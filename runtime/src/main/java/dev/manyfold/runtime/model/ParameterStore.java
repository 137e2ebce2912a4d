package dev.manyfold.runtime.model;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * All named tensors of a model — weights, norm gains, adapter parameters, masks and
 * constant tables — in one long-lived manager. Initial values are generated in Java from
 * the seed and the tensor name, so a model is bit-identical for the same seed whatever else
 * the engine did before. Not thread-safe for writes; reads are safe.
 */
public final class ParameterStore implements AutoCloseable {
    private final NDManager manager;
    private final long seed;
    private final Map<String, NDArray> tensors = new LinkedHashMap<>();
    private final Set<String> trainable = new LinkedHashSet<>();
    private final boolean shapesOnly;
    /** Bumped whenever tensors are added or their values change (see {@link #touch()}). */
    private final java.util.concurrent.atomic.AtomicLong version = new java.util.concurrent.atomic.AtomicLong();
    private final boolean placeholders;

    public ParameterStore(NDManager parent, long seed) {
        this(parent, seed, false, false);
    }

    private ParameterStore(NDManager parent, long seed, boolean shapesOnly, boolean placeholders) {
        this.manager = requireNonNull(parent, "parent is null").newSubManager();
        this.seed = seed;
        this.shapesOnly = shapesOnly;
        this.placeholders = placeholders;
    }

    /**
     * A store whose {@link #normal} and {@link #constant} tensors have their shapes but no
     * values of their own (broadcast views of one zero): a model built on it has its real
     * shape, sites and tensor names for checks, at no cost in memory. Not for computing.
     */
    public static ParameterStore shapesOnly(NDManager parent) {
        return new ParameterStore(parent, 0, true, false);
    }

    /** Whether this store holds shapes only (see {@link #shapesOnly}). */
    public boolean isShapesOnly() {
        return shapesOnly;
    }

    /**
     * A store whose {@link #normal} tensors are zeros: for a model every value of which is
     * assigned right after it is built (an imported checkpoint), so that no time or heap goes
     * into random values that are overwritten.
     */
    public static ParameterStore placeholders(NDManager parent) {
        return new ParameterStore(parent, 0, false, true);
    }

    public NDManager manager() {
        return manager;
    }

    /** A trainable tensor with values from {@code N(0, std²)}. */
    public NDArray normal(String name, double std, long... shape) {
        if (shapesOnly) {
            return add(name, manager.zeros(new Shape(1)).broadcast(new Shape(shape)), true);
        }
        if (placeholders) {
            return add(name, manager.zeros(new Shape(shape)), true);
        }
        Random random = new Random(seed * 0x9E3779B97F4A7C15L ^ name.hashCode());
        float[] values = new float[Math.toIntExact(new Shape(shape).size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * std);
        }
        return add(name, manager.create(values, new Shape(shape)), true);
    }

    /** A trainable tensor filled with a constant. */
    public NDArray constant(String name, float value, long... shape) {
        if (shapesOnly) {
            return add(name, manager.zeros(new Shape(1)).broadcast(new Shape(shape)), true);
        }
        return add(name, manager.full(new Shape(shape), value), true);
    }

    /**
     * A number that changes whenever a tensor is added or assigned, or {@link #touch()} is
     * called; caches derived from the values (composed inference weights) compare it.
     */
    public long version() {
        return version.get();
    }

    /** Records that tensor values changed in place (an optimiser step). */
    public void touch() {
        version.incrementAndGet();
    }

    /** Adds a tensor (moved into this store's manager). */
    public NDArray add(String name, NDArray array, boolean isTrainable) {
        touch();
        if (tensors.containsKey(name)) {
            throw new IllegalArgumentException("tensor " + name + " already exists");
        }
        array.attach(manager);
        array.setName(name);
        tensors.put(name, array);
        setTrainable(name, isTrainable);
        return array;
    }

    /** Marks a tensor trainable (it receives gradients and optimiser updates) or frozen. */
    public void setTrainable(String name, boolean isTrainable) {
        NDArray array = get(name);
        if (isTrainable) {
            trainable.add(name);
            array.setRequiresGradient(true);
        } else {
            trainable.remove(name);
            array.setRequiresGradient(false);
        }
    }

    public NDArray get(String name) {
        NDArray a = tensors.get(name);
        if (a == null) {
            throw new IllegalArgumentException("no tensor " + name);
        }
        return a;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** All tensors by name, in creation order. */
    public Map<String, NDArray> all() {
        return Collections.unmodifiableMap(tensors);
    }

    /** Names of trainable tensors, in creation order. */
    public Set<String> trainable() {
        return Collections.unmodifiableSet(trainable);
    }

    /** Replaces a tensor's values in place (shape must match; any data type, converted to the tensor's). */
    public void assign(String name, NDArray values) {
        NDArray target = get(name);
        if (!target.getShape().equals(values.getShape())) {
            throw new IllegalArgumentException("tensor " + name + " has shape " + target.getShape() + ", got " + values.getShape());
        }
        touch();
        boolean grad = trainable.contains(name);
        target.setRequiresGradient(false);
        NDArray converted = values.toType(target.getDataType(), false);
        if (target.getDataType() == ai.djl.ndarray.types.DataType.FLOAT32) {
            target.set(converted.toFloatArray());
        } else {
            target.set(converted.toByteBuffer()); // e.g. an adapter's int64 index buffer
        }
        if (grad) {
            target.setRequiresGradient(true);
        }
    }

    /**
     * Replaces a FLOAT32 tensor's values with {@code values} (its remaining elements, exactly
     * the tensor's size), without an intermediate array.
     */
    public void assign(String name, java.nio.FloatBuffer values) {
        NDArray target = get(name);
        if (values.remaining() != target.getShape().size()) {
            throw new IllegalArgumentException("tensor " + name + " has " + target.getShape().size() + " elements, got " + values.remaining());
        }
        boolean grad = trainable.contains(name);
        target.setRequiresGradient(false);
        target.set(values);
        if (grad) {
            target.setRequiresGradient(true);
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
