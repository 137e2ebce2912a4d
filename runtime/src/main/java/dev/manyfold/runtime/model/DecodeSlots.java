package dev.manyfold.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.BitSet;

/**
 * The KV caches of the sessions taking part in batched decode steps, as rows ("slots") of one
 * tensor per layer, so that a batched step attends for every row at once with a fixed number
 * of ops: keys {@code [slots, kv, hd, capacity]} and values {@code [slots, kv, capacity, hd]},
 * a session's positions at the start of its slot. A step writes each row's new key and value
 * in place (one indexed put for all rows), attends over the slots {@code [0, highest row]}
 * with a mask hiding each slot's positions past its length (stale values of a longer earlier
 * occupant included) and gathers the rows' outputs.
 *
 * <p>Slots and capacity grow on demand (slots one by one, capacity in powers of two up to the
 * context), copying what is held. Every method runs under this object's monitor; a
 * {@link LlamaSession} moves its cache in at its first batched step and back out to its own
 * tensors when anything but a batched step touches it.
 */
final class DecodeSlots {
    /** Finite, so that a slot with no visible position softmaxes to a uniform row instead of NaN. */
    static final float HIDDEN = -1e30f;

    private final NDManager manager;
    private final int layers;
    private final int kvHeads;
    private final int headDim;
    private final int context;
    private final NDArray[] keys;
    private final NDArray[] values;
    private final BitSet used = new BitSet();
    private int slots;
    private int capacity;

    DecodeSlots(NDManager parent, int layers, int kvHeads, int headDim, int context) {
        this.manager = parent.newSubManager();
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.context = context;
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
    }

    /** The lowest free slot, now in use; the tensors grow to hold it. */
    int acquire() {
        int slot = used.nextClearBit(0);
        used.set(slot);
        ensure(slot + 1, Math.max(capacity, 1));
        return slot;
    }

    void release(int slot) {
        used.clear(slot);
    }

    /** Grows the tensors to at least {@code slots} rows and {@code positions} positions (capacity rounded up to a power of two). */
    void ensure(int minSlots, int positions) {
        if (positions > context) {
            throw new IllegalArgumentException("positions " + positions + " exceed the context of " + context);
        }
        int cap = capacity;
        while (cap < positions) {
            cap = cap == 0 ? 16 : cap * 2;
        }
        cap = Math.min(cap, context);
        int rows = Math.max(slots, minSlots);
        if (rows == slots && cap == capacity) {
            return;
        }
        for (int i = 0; i < layers; i++) {
            NDArray k = manager.zeros(new Shape(rows, kvHeads, headDim, cap));
            NDArray v = manager.zeros(new Shape(rows, kvHeads, cap, headDim));
            if (keys[i] != null) {
                k.set(new NDIndex(":{}, :, :, :{}", slots, capacity), keys[i]);
                v.set(new NDIndex(":{}, :, :{}, :", slots, capacity), values[i]);
                keys[i].close();
                values[i].close();
            }
            keys[i] = k;
            values[i] = v;
        }
        slots = rows;
        capacity = cap;
    }

    int capacity() {
        return capacity;
    }

    /** Copies a session's layer cache ({@code [kv, hd, n]} keys, {@code [kv, n, hd]} values) into its slot. */
    void store(int slot, int layer, NDArray k, NDArray v) {
        long n = k.getShape().get(2);
        keys[layer].set(new NDIndex("{}, :, :, :{}", slot, n), k);
        values[layer].set(new NDIndex("{}, :, :{}, :", slot, n), v);
    }

    /** A copy of a slot's first {@code n} positions of a layer, owned by {@code into}: {@code {keys, values}}. */
    NDArray[] load(int slot, int layer, int n, NDManager into) {
        try (NDManager views = manager.newSubManager()) {
            NDArray k = Ops.own(views, keys[layer].get(new NDIndex("{}, :, :, :{}", slot, n))).duplicate();
            NDArray v = Ops.own(views, values[layer].get(new NDIndex("{}, :, :{}, :", slot, n))).duplicate();
            k.attach(into);
            v.attach(into);
            return new NDArray[] {k, v};
        }
    }

    /** Writes each row's key {@code [B, kv, hd]} and value {@code [B, kv, hd]} at its slot and position. */
    void append(int layer, NDArray slotIndex, NDArray positions, NDArray k, NDArray v) {
        keys[layer].set(new NDIndex("{}, :, :, {}", slotIndex, positions), k);
        values[layer].set(new NDIndex("{}, :, {}, :", slotIndex, positions), v);
    }

    /** Writes one row's key and value {@code [kv, hd]} at its slot and position (a plain slice copy, cheaper than an indexed put). */
    void append(int layer, int slot, int position, NDArray k, NDArray v) {
        keys[layer].set(new NDIndex("{}, :, :, {}", slot, position), k);
        values[layer].set(new NDIndex("{}, :, {}, :", slot, position), v);
    }

    /** One slot's keys {@code [1, kv, hd, n]} and values {@code [1, kv, n, hd]} of a layer: views owned by {@code into}. */
    NDArray[] row(int layer, int slot, int n, NDManager into) {
        return new NDArray[] {Ops.own(into, keys[layer].get(new NDIndex("{}:{}, :, :, :{}", slot, slot + 1, n))),
                Ops.own(into, values[layer].get(new NDIndex("{}:{}, :, :{}, :", slot, slot + 1, n)))};
    }

    /** Keys of slots {@code [0, n)} of a layer: a view owned by {@code into}. */
    NDArray keys(int layer, int n, NDManager into) {
        return Ops.own(into, keys[layer].get(new NDIndex(":{}", n)));
    }

    /** Values of slots {@code [0, n)} of a layer: a view owned by {@code into}. */
    NDArray values(int layer, int n, NDManager into) {
        return Ops.own(into, values[layer].get(new NDIndex(":{}", n)));
    }
}
