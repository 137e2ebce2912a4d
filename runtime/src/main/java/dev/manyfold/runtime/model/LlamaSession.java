package dev.manyfold.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import dev.manyfold.api.decoder.InferenceSession;
import java.util.List;

/**
 * The KV-cached inference path of a {@link LlamaModel} (full width, any exit), built for few
 * JNI calls per token: on a small model every tensor op costs tens of microseconds of
 * dispatch whatever its size, so the cost of a layer is its op count.
 *
 * <p>At open the session composes every site's effective weight once (mask and adapters
 * applied) and rewrites the weights so that a layer needs about 24 ops per decoded token
 * instead of about 60:
 * <ul>
 *   <li><b>Augmented residual stream.</b> Inside {@code run} and {@code logits} hidden
 *       states are {@code [n, d + 1]} (callers see {@code [n, d]}): the extra
 *       column holds the constant {@code c = sqrt(d·eps)}, which no layer writes (the output
 *       projections get a zero row). Then {@code ‖[x, c]‖² = ‖x‖² + d·eps}, so RMSNorm is
 *       exactly one {@code normalize} op; its gain and the factor {@code sqrt(d)} are folded
 *       into the weights that read the normalised state, which get a zero input column.</li>
 *   <li><b>One projection for Q, K, V and RoPE.</b> The rows of one matrix are
 *       {@code [Wq; Wk; Wv; rot(Wq); rot(Wk); 0]}, where {@code rot} permutes and negates
 *       rows like RoPE's rotate-half, so RoPE is one multiply by a per-position
 *       {@code [cos cos 1; sin sin 0]} table and a sum over that axis. The
 *       attention scale {@code 1/sqrt(hd)} is folded into {@code Wq}.</li>
 *   <li><b>Cache layouts matmul wants:</b> keys as {@code [kv, hd, S]}, values as
 *       {@code [kv, S, hd]}; the residual add rides as the bias of the output and down projections.</li>
 *   <li><b>Gate and up in one matmul.</b></li>
 *   <li><b>Q/K/V biases</b> (Qwen2), when the model has them, are one vector per layer laid out
 *       like the projection's rows, {@code [bq; bk; bv; rot(bq); rot(bk); 0]} ({@code bq} scaled
 *       like {@code Wq}), passed as the bias of the same linear op ({@link Weights#qkvBias}); null and
 *       free when the model has none.</li>
 * </ul>
 * Results equal the training forward up to float rounding.
 */
final class LlamaSession implements InferenceSession {
    private final NDManager cacheManager;
    private final Weights w;
    private final int layers;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int ffn;
    private final int dim;
    private final int context;
    private final NDArray[] keys;
    private final NDArray[] values;
    private final LlamaModel model;
    private boolean closed;
    /**
     * The row of the weights' {@link DecodeSlots} holding this session's cache since its first
     * batched step, or -1 when the cache is in {@link #keys} and {@link #values}.
     */
    private int slot = -1;
    /** Per layer, the positions cached in {@link #slot}. */
    private final int[] slotLength;

    /**
     * The composed, rewritten weights of one model state, shared by every session opened on it
     * (and their forks): built once, freed when the model's weights change and no session uses
     * them any more. Immutable once built.
     */
    static final class Weights {
        private final NDManager manager;
        final long version;
        /** Query and KV heads per layer (equal in every layer unless heads were pruned per layer). */
        final int[] layerHeads;
        final int[] layerKvHeads;
        /** Per-layer RoPE tables for layers narrower than the widest; null where the shared table fits. */
        final NDArray[] layerRope;
        final NDArray[] qkv;
        /** Per layer, the bias of {@link #qkv}'s rows, or null when the model has no q/k/v biases. */
        final NDArray[] qkvBias;
        final NDArray[] out;
        final NDArray[] gateUp;
        final NDArray[] down;
        NDArray embed;
        NDArray head;
        NDArray rope;
        NDArray causal;
        /** {@code [[sqrt(d·eps)]]}: the augmented column. */
        NDArray column;
        private int users;
        private boolean superseded;
        /** The caches of sessions in batched steps, made at the first one. */
        private DecodeSlots decodeSlots;

        Weights(LlamaModel model, long version) {
            int layers = model.layers();
            this.version = version;
            this.manager = model.parameters().manager().newSubManager();
            this.layerHeads = model.layerHeads().stream().mapToInt(Integer::intValue).toArray();
            this.layerKvHeads = new int[layers];
            for (int i = 0; i < layers; i++) {
                layerKvHeads[i] = layerHeads[i] / (model.heads() / model.kvHeads());
            }
            this.layerRope = new NDArray[layers];
            this.qkv = new NDArray[layers];
            this.qkvBias = new NDArray[layers];
            this.out = new NDArray[layers];
            this.gateUp = new NDArray[layers];
            this.down = new NDArray[layers];
            try {
                Ops.withoutAutograd(manager, () -> {
                    try (NDManager tmp = manager.newSubManager()) {
                        build(model, tmp);
                    }
                    return null;
                });
            } catch (RuntimeException e) {
                manager.close();
                throw e;
            }
        }

        /** Counts a session in; false when these weights were already freed. */
        synchronized boolean acquire() {
            if (superseded && users == 0) {
                return false;
            }
            users++;
            return true;
        }

        synchronized void release() {
            users--;
            if (users == 0 && superseded) {
                manager.close();
            }
        }

        synchronized DecodeSlots decodeSlots(int kvHeads, int headDim, int context) {
            if (decodeSlots == null) {
                decodeSlots = new DecodeSlots(manager, qkv.length, kvHeads, headDim, context);
            }
            return decodeSlots;
        }

        /** The model's weights changed: free these once the last session using them closes. */
        synchronized void supersede() {
            if (superseded) {
                return;
            }
            superseded = true;
            if (users == 0) {
                manager.close();
            }
        }

        /** Composes and rewrites every weight into this object's manager. */
        private void build(LlamaModel model, NDManager tmp) {
            int layers = model.layers();
            int heads = model.heads();
            int kvHeads = model.kvHeads();
            int headDim = model.headDim();
            int dim = model.dim();
            int ffn = model.ffn();
            float eps = model.normEps();
            float root = (float) Math.sqrt(dim);
            ParameterStore p = model.parameters();
            NDArray ropeFull = Ops.withoutAutograd(tmp, model::ropeQkv);
            for (int i = 0; i < layers; i++) {
                // Each layer's temporaries are freed before the next: the peak is one layer's, not the whole model's.
                try (NDManager lt = tmp.newSubManager()) {
                    String l = TensorNames.layer(i);
                    int qd = layerHeads[i] * headDim;
                    int kd = layerKvHeads[i] * headDim;
                    if (layerHeads[i] != heads) {
                        // The shared table's [q | k | v] column blocks, cut to this layer's heads.
                        long fq = (long) heads * headDim;
                        long fk = (long) kvHeads * headDim;
                        layerRope[i] = keep(ai.djl.ndarray.NDArrays.concat(new NDList(own(lt, ropeFull.get(new NDIndex(":, :, :{}", qd))),
                                own(lt, ropeFull.get(new NDIndex(":, :, {}:{}", fq, fq + kd))),
                                own(lt, ropeFull.get(new NDIndex(":, :, {}:{}", fq + fk, fq + fk + kd)))), 2));
                    }
                    NDArray wq = weight(model, lt, l + ".attn.q_proj", qd, dim).mul(1.0 / Math.sqrt(headDim));
                    NDArray wk = weight(model, lt, l + ".attn.k_proj", kd, dim);
                    NDArray wv = weight(model, lt, l + ".attn.v_proj", kd, dim);
                    NDArray rows = ai.djl.ndarray.NDArrays.concat(new NDList(wq, wk, wv, rotateHalf(wq, layerHeads[i], headDim),
                            rotateHalf(wk, layerKvHeads[i], headDim), lt.zeros(new Shape(kd, dim))), 0);
                    qkv[i] = keep(readsNormalised(rows, own(lt, p.get(l + ".attn_norm.weight").mul(root))));
                    if (model.qkvBias()) {
                        NDArray bq = own(lt, p.get(l + ".attn.q_proj.bias").mul(1.0 / Math.sqrt(headDim))).reshape(qd, 1);
                        NDArray bk = own(lt, p.get(l + ".attn.k_proj.bias").duplicate()).reshape(kd, 1);
                        NDArray bv = own(lt, p.get(l + ".attn.v_proj.bias").duplicate()).reshape(kd, 1);
                        qkvBias[i] = keep(ai.djl.ndarray.NDArrays.concat(new NDList(bq, bk, bv, rotateHalf(bq, layerHeads[i], headDim),
                                rotateHalf(bk, layerKvHeads[i], headDim), lt.zeros(new Shape(kd, 1))), 0).reshape(-1));
                    }
                    NDArray wo = weight(model, lt, l + ".attn.o_proj", dim, qd); // [d, qd]
                    out[i] = keep(wo.concat(lt.zeros(new Shape(1, qd)), 0)); // [d+1, qd]
                    NDArray gu = weight(model, lt, l + ".mlp.gate_proj", ffn, dim).concat(weight(model, lt, l + ".mlp.up_proj", ffn, dim), 0);
                    gateUp[i] = keep(readsNormalised(gu, own(lt, p.get(l + ".mlp_norm.weight").mul(root))));
                    NDArray wd = weight(model, lt, l + ".mlp.down_proj", dim, ffn);
                    down[i] = keep(wd.concat(lt.zeros(new Shape(1, ffn)), 0));
                }
            }
            head = keep(readsNormalised(weight(model, tmp, "lm_head", model.vocabularySize(), dim),
                    own(tmp, p.get("norm.weight").mul(root))));
            embed = keep(p.get("embed.weight").duplicate());
            column = keep(tmp.full(new Shape(1, 1), (float) Math.sqrt(dim * (double) eps)));
            // RoPE tables per position for the [q | k] columns: every head uses the same [hd] row.
            rope = ropeFull;
            causal = keep(model.causalMask().duplicate());
        }

        private NDArray keep(NDArray a) {
            a.attach(manager);
            return a;
        }
    }

    LlamaSession(LlamaModel model, Weights weights, NDManager cacheManager) {
        this.cacheManager = cacheManager;
        this.w = weights;
        this.layers = model.layers();
        this.heads = model.heads();
        this.kvHeads = model.kvHeads();
        this.headDim = model.headDim();
        this.ffn = model.ffn();
        this.dim = model.dim();
        this.context = model.contextLength();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
        this.slotLength = new int[layers];
        this.model = model;
    }

    /** A site's effective weight, owned by {@code tmp} and detached from autograd. */
    private static NDArray weight(LlamaModel model, NDManager tmp, String site, int rows, int cols) {
        return own(tmp, model.site(site).effectiveWeight(tmp, rows, cols).stopGradient());
    }

    /** {@code W [out, d]} reading {@code normalise([x, c])}: columns scaled by the gain, plus a zero column. */
    private static NDArray readsNormalised(NDArray w, NDArray gain) {
        return w.mul(gain).concat(w.getManager().zeros(new Shape(w.getShape().get(0), 1)), 1);
    }

    /** Rows permuted and negated so that {@code x·rot(W)ᵀ = rotate_half(x·Wᵀ)} per head. */
    private static NDArray rotateHalf(NDArray w, int h, int headDim) {
        long in = w.getShape().get(1);
        NDList halves = w.reshape(h, headDim, in).split(2, 1);
        return halves.get(1).neg().concat(halves.get(0), 1).reshape(h * (long) headDim, in);
    }

    private static NDArray own(NDManager manager, NDArray a) {
        return Ops.own(manager, a);
    }

    @Override
    public int cachedLength(int layer) {
        if (slot >= 0) {
            return slotLength[layer];
        }
        return values[layer] == null ? 0 : (int) values[layer].getShape().get(1);
    }

    @Override
    public NDArray embed(int[] tokens, int start, NDManager manager) {
        checkPositions(start, tokens.length);
        return Ops.withoutAutograd(manager, () -> {
            long[] ids = new long[tokens.length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = tokens[i];
            }
            return ai.djl.nn.core.Embedding.embedding(manager.create(ids), w.embed, ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow();
        });
    }

    @Override
    public NDArray run(NDArray hidden, int from, int to, int start, NDManager manager) {
        return Ops.withoutAutograd(manager, () -> runLayers(hidden, from, to, start, manager));
    }

    private NDArray runLayers(NDArray hidden, int from, int to, int start, NDManager manager) {
        leaveSlot();
        int n = (int) hidden.getShape().get(0);
        checkPositions(start, n);
        if (hidden.getShape().get(1) != dim) {
            throw new IllegalArgumentException("hidden states of shape " + hidden.getShape() + " are not [n, " + dim + "]");
        }
        NDArray table = n == 1 ? model.ropeQkvRow(start) // shared constants: a decode step needs no index op
                : own(manager, w.rope.get(new NDIndex("{}:{}", start, start + n)));
        int group = heads / kvHeads;
        NDArray mask = null;
        if (n > 1) {
            mask = own(manager, w.causal.get(new NDIndex("{}:{}, :{}", start, start + n, start + n)));
            if (group > 1) {
                mask = mask.tile(new long[] {group, 1});
            }
        }
        NDArray x = augment(hidden, n, manager);
        for (int i = from; i < to; i++) {
            if (cachedLength(i) != start) {
                throw new IllegalStateException("layer " + i + " caches " + cachedLength(i) + " positions, expected " + start);
            }
            int h = w.layerHeads[i];
            int kvh = w.layerKvHeads[i];
            long qd = (long) h * headDim;
            long kd = (long) kvh * headDim;
            long[] qkvSplit = {qd, qd + kd};
            long width = qd + 2L * kd;
            NDArray layerTable = w.layerRope[i] == null ? table
                    : own(manager, w.layerRope[i].get(new NDIndex("{}:{}", start, start + n)));
            // [q k v | rot(q) rot(k) 0] · [cos cos 1 | sin sin 0], summed: RoPE'd q and k, and v, in 4 ops.
            NDArray a = x.normalize(2, -1, 0);
            NDList parts = (w.qkvBias[i] == null ? Linear.linear(a, w.qkv[i]) : Linear.linear(a, w.qkv[i], w.qkvBias[i])).singletonOrThrow().reshape(n, 2, width).mul(layerTable).sum(new int[] {1}).split(qkvSplit, 1);
            NDArray q;
            NDArray k;
            NDArray v;
            if (n == 1) {
                q = parts.get(0).reshape(kvh, group, headDim);
                k = parts.get(1).reshape(kvh, headDim, 1);
                v = parts.get(2).reshape(kvh, 1, headDim);
            } else {
                q = parts.get(0).reshape(n, h, headDim).transpose(1, 0, 2);
                if (group > 1) {
                    q = q.reshape(kvh, group * (long) n, headDim);
                }
                k = parts.get(1).reshape(n, kvh, headDim).transpose(1, 2, 0);
                v = parts.get(2).reshape(n, kvh, headDim).transpose(1, 0, 2);
            }
            if (keys[i] != null) {
                k = keys[i].concat(k, 2);
                v = values[i].concat(v, 1);
            }
            replace(i, k, v);
            NDArray scores = q.matMul(k); // [kv, group·n, S]
            if (mask != null) {
                scores = scores.add(mask);
            }
            NDArray o = scores.softmax(-1).matMul(v); // [kv, group·n, hd]
            o = n == 1 ? o.reshape(1, qd) : o.reshape(h, n, headDim).transpose(1, 0, 2).reshape(n, qd);
            x = Linear.linear(o, w.out[i], x).singletonOrThrow(); // x + o·Woᵀ: the residual rides as the bias
            NDList gu = Linear.linear(x.normalize(2, -1, 0), w.gateUp[i]).singletonOrThrow().split(new long[] {ffn}, 1);
            NDArray g = gu.get(0);
            NDArray act = g.mul(g.getNDArrayInternal().sigmoid()).mul(gu.get(1));
            x = Linear.linear(act, w.down[i], x).singletonOrThrow();
        }
        return x.split(new long[] {dim}, 1).get(0);
    }

    /** Whether this session can share a batched step with other sessions of {@code owner}: every layer at full width. */
    boolean batchableWith(LlamaModel owner) {
        if (owner != model) {
            return false;
        }
        for (NDArray r : w.layerRope) {
            if (r != null) {
                return false;
            }
        }
        return true;
    }

    /**
     * One decode step of several sessions of one model (see {@link BatchedDecoding}): the
     * projections, MLP and head run once over {@code [B, d + 1]} with the composed weights
     * every row's session shares; RoPE takes each row's position from the table in one gather;
     * attention runs for all rows at once over the weights' {@link DecodeSlots}, where each
     * session's cache moves at its first batched step (and back out when anything else uses
     * it), so a step's op count does not grow with {@code B}.
     */
    static float[][] forwardBatch(List<LlamaSession> rows, int[] tokens, int[] starts, int to, NDManager manager) {
        LlamaSession first = rows.get(0);
        for (int r = 1; r < rows.size(); r++) {
            if (rows.get(r).w != first.w) {
                throw new IllegalArgumentException("row " + r + "'s session was opened on other weights than row 0's (the model changed"
                        + " between them); it cannot share a batched step");
            }
        }
        return Ops.withoutAutograd(manager, () -> first.stepRows(rows, tokens, starts, to, manager));
    }

    private float[][] stepRows(List<LlamaSession> rows, int[] tokens, int[] starts, int to, NDManager manager) {
        int b = rows.size();
        long[] ids = new long[b];
        long[] positions = new long[b];
        for (int r = 0; r < b; r++) {
            LlamaSession s = rows.get(r);
            s.checkPositions(starts[r], 1);
            for (int i = 0; i < to; i++) {
                if (s.cachedLength(i) != starts[r]) {
                    throw new IllegalStateException("row " + r + ": layer " + i + " caches " + s.cachedLength(i) + " positions, expected "
                            + starts[r]);
                }
            }
            for (int q = 0; q < r; q++) {
                if (rows.get(q) == s) {
                    throw new IllegalArgumentException("rows " + q + " and " + r + " are the same session");
                }
            }
            ids[r] = tokens[r];
            positions[r] = starts[r];
        }
        if (b == 1 && rows.get(0).slot < 0) {
            // Alone and never batched (one client): the session's own step, its cache stays where it is.
            return new float[][] {rows.get(0).forward(new int[] {tokens[0]}, starts[0], to, manager)};
        }
        DecodeSlots pool = w.decodeSlots(kvHeads, headDim, context);
        synchronized (pool) {
            int longest = 0;
            long[] slots = new long[b];
            int high = 0;
            for (int r = 0; r < b; r++) {
                LlamaSession s = rows.get(r);
                s.enterSlot(pool);
                slots[r] = s.slot;
                high = Math.max(high, s.slot + 1);
                longest = Math.max(longest, starts[r] + 1);
            }
            pool.ensure(high, longest);
            float[][] logits = attendInSlots(rows, pool, slots, high, ids, positions, to, manager);
            for (int r = 0; r < b; r++) {
                for (int i = 0; i < to; i++) {
                    rows.get(r).slotLength[i] = starts[r] + 1;
                }
            }
            return logits;
        }
    }

    /**
     * The batched step proper, under the pool's monitor: projections, MLP and head over
     * {@code [B, d + 1]}; attention of every slot in {@code [0, high)} at once, rows' queries
     * scattered to their slots and their outputs gathered back (both skipped when the rows are
     * exactly slots {@code 0..B-1} in order).
     */
    private float[][] attendInSlots(List<LlamaSession> rows, DecodeSlots pool, long[] slots, int high, long[] ids, long[] positions, int to,
            NDManager manager) {
        int b = rows.size();
        int group = heads / kvHeads;
        long qd = (long) heads * headDim;
        long kd = (long) kvHeads * headDim;
        long[] qkvSplit = {qd, qd + kd};
        long width = qd + 2L * kd;
        int cap = pool.capacity();
        boolean inOrder = high == b;
        for (int r = 0; r < b && inOrder; r++) {
            inOrder = slots[r] == r;
        }
        NDArray mask = null;
        NDArray slotIndex = null;
        if (b > 1) {
            float[] visible = new float[high * cap];
            java.util.Arrays.fill(visible, DecodeSlots.HIDDEN);
            for (int r = 0; r < b; r++) {
                java.util.Arrays.fill(visible, (int) slots[r] * cap, (int) (slots[r] * cap + positions[r] + 1), 0f);
            }
            mask = manager.create(visible, new Shape(high, 1, 1, cap));
            slotIndex = manager.create(slots);
        }
        NDArray positionIndex = manager.create(positions);
        NDArray hidden = own(manager, ai.djl.nn.core.Embedding.embedding(manager.create(ids), w.embed,
                ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow());
        NDArray table = own(manager, ai.djl.nn.core.Embedding.embedding(positionIndex, own(manager, w.rope.reshape(context, 2 * width)),
                ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow()).reshape(b, 2, width);
        NDArray x = augment(hidden, b, manager);
        for (int i = 0; i < to; i++) {
            NDArray a = x.normalize(2, -1, 0);
            NDList parts = (w.qkvBias[i] == null ? Linear.linear(a, w.qkv[i]) : Linear.linear(a, w.qkv[i], w.qkvBias[i])).singletonOrThrow()
                    .reshape(b, 2, width).mul(table).sum(new int[] {1}).split(qkvSplit, 1);
            NDArray q = parts.get(0).reshape(b, kvHeads, group, headDim);
            NDArray o;
            if (b == 1) {
                // One row: its own slot's visible positions, no mask, slice copies instead of indexed puts.
                int position = (int) positions[0];
                pool.append(i, (int) slots[0], position, parts.get(1).reshape(kvHeads, headDim), parts.get(2).reshape(kvHeads, headDim));
                NDArray[] kv = pool.row(i, (int) slots[0], position + 1, manager);
                o = q.matMul(kv[0]).softmax(-1).matMul(kv[1]);
            } else {
                pool.append(i, slotIndex, positionIndex, parts.get(1).reshape(b, kvHeads, headDim), parts.get(2).reshape(b, kvHeads, headDim));
                if (!inOrder) {
                    NDArray scattered = manager.zeros(new Shape(high, kvHeads, group, headDim));
                    scattered.set(new NDIndex("{}", slotIndex), q);
                    q = scattered;
                }
                o = q.matMul(pool.keys(i, high, manager)).add(mask).softmax(-1).matMul(pool.values(i, high, manager)); // [high, kv, group, hd]
                if (!inOrder) {
                    o = o.get(new NDIndex("{}", slotIndex));
                }
            }
            x = Linear.linear(o.reshape(b, qd), w.out[i], x).singletonOrThrow();
            NDList gu = Linear.linear(x.normalize(2, -1, 0), w.gateUp[i]).singletonOrThrow().split(new long[] {ffn}, 1);
            NDArray g = gu.get(0);
            NDArray act = g.mul(g.getNDArrayInternal().sigmoid()).mul(gu.get(1));
            x = Linear.linear(act, w.down[i], x).singletonOrThrow();
        }
        float[] flat = own(manager, Linear.linear(x.normalize(2, -1, 0), w.head).singletonOrThrow()).toFloatArray();
        int v = flat.length / b;
        float[][] logits = new float[b][];
        for (int r = 0; r < b; r++) {
            logits[r] = java.util.Arrays.copyOfRange(flat, r * v, (r + 1) * v);
        }
        return logits;
    }

    /** Under the pool's monitor: moves this session's cache into a slot of {@code pool}, unless it is in one. */
    private void enterSlot(DecodeSlots pool) {
        if (slot >= 0) {
            return;
        }
        int taken = pool.acquire();
        int longest = 0;
        for (int i = 0; i < layers; i++) {
            longest = Math.max(longest, cachedLength(i));
        }
        pool.ensure(taken + 1, Math.max(1, longest));
        for (int i = 0; i < layers; i++) {
            int n = cachedLength(i);
            if (n > 0) {
                pool.store(taken, i, keys[i], values[i]);
                keys[i].close();
                values[i].close();
                keys[i] = null;
                values[i] = null;
            }
            slotLength[i] = n;
        }
        slot = taken;
    }

    /** Moves this session's cache out of its slot into its own tensors (before anything but a batched step uses it). */
    private void leaveSlot() {
        if (slot < 0) {
            return;
        }
        DecodeSlots pool = w.decodeSlots(kvHeads, headDim, context);
        synchronized (pool) {
            for (int i = 0; i < layers; i++) {
                if (slotLength[i] > 0) {
                    NDArray[] kv = pool.load(slot, i, slotLength[i], cacheManager);
                    keys[i] = kv[0];
                    values[i] = kv[1];
                }
            }
            pool.release(slot);
            slot = -1;
        }
    }

    /** {@code [x, c]}: hidden states {@code [n, d]} with the constant column appended, owned by {@code manager}. */
    private NDArray augment(NDArray hidden, long n, NDManager manager) {
        NDArray c = n == 1 ? w.column : own(manager, w.column.broadcast(n, 1));
        return own(manager, hidden.concat(c, 1));
    }

    private void replace(int layer, NDArray k, NDArray v) {
        NDArray oldK = keys[layer];
        NDArray oldV = values[layer];
        k.attach(cacheManager);
        v.attach(cacheManager);
        keys[layer] = k;
        values[layer] = v;
        if (oldK != null && oldK != k) {
            oldK.close();
            oldV.close();
        }
    }

    @Override
    public NDArray logits(NDArray hidden, NDManager manager) {
        return Ops.withoutAutograd(manager, () -> {
            long n = hidden.getShape().get(0);
            return own(manager, Linear.linear(augment(hidden, n, manager).normalize(2, -1, 0), w.head).singletonOrThrow());
        });
    }

    @Override
    public void crop(int length) {
        for (int i = 0; i < layers; i++) {
            crop(i, length);
        }
    }

    @Override
    public void crop(int layer, int length) {
        if (cachedLength(layer) <= length) {
            return;
        }
        if (slot >= 0) {
            slotLength[layer] = length; // the slot's later positions are masked, then overwritten
            return;
        }
        if (length == 0) {
            keys[layer].close();
            values[layer].close();
            keys[layer] = null;
            values[layer] = null;
            return;
        }
        // Views: the next append concatenates into fresh storage, which frees the longer one.
        replace(layer, keys[layer].get(new NDIndex(":, :, :{}", length)), values[layer].get(new NDIndex(":, :{}", length)));
    }

    private void checkPositions(int start, int n) {
        if (n < 1 || start < 0 || start + n > context) {
            throw new IllegalArgumentException("positions " + start + ".." + (start + n - 1) + " are outside the context of "
                    + context + " tokens");
        }
    }

    /** The shared composed weights this session reads (for tests). */
    Weights weights() {
        return w;
    }

    @Override
    public boolean canFork() {
        return true;
    }

    /** Copies the cache (one duplicate per layer's keys and values) and shares the composed weights. */
    @Override
    public InferenceSession fork() {
        if (closed) {
            throw new IllegalStateException("the session is closed");
        }
        if (!w.acquire()) {
            throw new IllegalStateException("the model's weights changed since this session was opened");
        }
        leaveSlot();
        LlamaSession copy = new LlamaSession(model, w, cacheManager.getParentManager().newSubManager());
        for (int i = 0; i < layers; i++) {
            if (keys[i] != null) {
                copy.replace(i, keys[i].duplicate(), values[i].duplicate());
            }
        }
        return copy;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (slot >= 0) {
                DecodeSlots pool = w.decodeSlots(kvHeads, headDim, context);
                synchronized (pool) {
                    pool.release(slot);
                }
                slot = -1;
            }
            cacheManager.close();
            w.release();
        }
    }
}
