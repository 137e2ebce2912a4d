package dev.manyfold.runtime.serve;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.model.BatchedDecoding;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Batches the one-token decode steps of concurrent requests: the {@link #model()} it hands to
 * decoders opens sessions whose {@link InferenceSession#forward} of one token waits until
 * other sessions are ready for a step too, then one of the waiting threads runs all their
 * steps as one {@link BatchedDecoding#forwardBatch} while the others wait for their row.
 * Everything else (the prompt's prefill, {@code run}, {@code logits}, {@code crop}, a session
 * the engine cannot batch) goes straight to the engine's own session, so any decoder keeps
 * working; each row's logits equal the session's own step up to float rounding.
 *
 * <p>Scheduling: at most {@code lanes} batches run at once (one per core), each of one exit
 * and at most its lane's share of the decoding sessions not in a running batch
 * ({@code ceil(those / free lanes)}, at most {@code maxBatch}). A batch starts as soon as its
 * share is waiting, or every such session is, or the oldest waiting step has waited
 * {@code linger} (a session still in its prefill or writing its token to a slow client does
 * not hold the others up longer).
 */
final class StepBatcher {
    private final LanguageModel engine;
    private final BatchedDecoding batched;
    private final int maxBatch;
    private final int lanes;
    private final long lingerNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Steps waiting for a batch, oldest first. */
    private final List<Step> waiting = new ArrayList<>();
    /** Sessions that have asked for a batched step and are not closed. */
    private int decoding;
    private int running;
    /** Steps in the running batches. */
    private int inFlight;
    private long batches;
    private long rows;

    /**
     * @param engine a model that is also {@link BatchedDecoding}
     * @param maxBatch the most steps in one batch (at least 2)
     * @param lanes the most batches that run at once
     * @param lingerMicros how long the oldest waiting step waits for others
     */
    StepBatcher(LanguageModel engine, int maxBatch, int lanes, long lingerMicros) {
        this.engine = requireNonNull(engine, "engine is null");
        if (!(engine instanceof BatchedDecoding b)) {
            throw new IllegalArgumentException("the model " + engine.getClass().getSimpleName() + " cannot batch decode steps");
        }
        if (maxBatch < 2 || lanes < 1 || lingerMicros < 0) {
            throw new IllegalArgumentException("maxBatch must be >= 2, lanes >= 1 and linger >= 0, got " + maxBatch + ", " + lanes + ", "
                    + lingerMicros);
        }
        this.batched = b;
        this.maxBatch = maxBatch;
        this.lanes = lanes;
        this.lingerNanos = TimeUnit.MICROSECONDS.toNanos(lingerMicros);
    }

    /** Whether {@code model} can be batched by this class. */
    static boolean supports(LanguageModel model) {
        return model instanceof BatchedDecoding;
    }

    /** The engine's model, whose sessions batch their one-token steps through this batcher. */
    LanguageModel model() {
        return new Batching();
    }

    /** Batches run so far and the steps they held: their ratio is the mean batch size. */
    long[] counts() {
        lock.lock();
        try {
            return new long[] {batches, rows};
        } finally {
            lock.unlock();
        }
    }

    private float[] step(InferenceSession session, int token, int start, int to) {
        Step mine = new Step(session, token, start, to, System.nanoTime());
        boolean interrupted = false;
        lock.lock();
        try {
            waiting.add(mine);
            changed.signalAll();
            while (!mine.done) {
                List<Step> batch = !mine.taken && running < lanes ? take(mine) : null;
                if (batch != null) {
                    run(batch);
                    continue;
                }
                try {
                    long wait = !mine.taken && running < lanes ? Math.max(1, waiting.get(0).arrived + lingerNanos - System.nanoTime()) : Long.MAX_VALUE;
                    changed.awaitNanos(Math.min(wait, TimeUnit.MILLISECONDS.toNanos(50)));
                } catch (InterruptedException e) {
                    // a step in flight touches this session: wait for it to end, then pass the interrupt on
                    interrupted = true;
                }
            }
        } finally {
            lock.unlock();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (mine.error != null) {
            throw mine.error;
        }
        return mine.logits;
    }

    /**
     * Under the lock: the batch holding {@code mine} when it is due, else null. A batch is due
     * when its exit's waiting steps reach this lane's share of the sessions not in a running
     * batch, when every such session is waiting (whatever its exit), or after the linger.
     */
    private List<Step> take(Step mine) {
        int free = lanes - running;
        int idle = Math.max(1, decoding - inFlight);
        int share = Math.min(maxBatch, (idle + free - 1) / free);
        int same = 0;
        for (Step s : waiting) {
            same += s.to == mine.to ? 1 : 0;
        }
        if (same < share && waiting.size() < idle && System.nanoTime() - waiting.get(0).arrived < lingerNanos) {
            return null;
        }
        List<Step> batch = new ArrayList<>();
        batch.add(mine);
        waiting.remove(mine);
        for (Iterator<Step> it = waiting.iterator(); it.hasNext() && batch.size() < share;) {
            Step s = it.next();
            if (s.to == mine.to) {
                batch.add(s);
                it.remove();
            }
        }
        for (Step s : batch) {
            s.taken = true;
        }
        return batch;
    }

    /** Under the lock on entry and exit; runs {@code batch} without it. */
    private void run(List<Step> batch) {
        running++;
        inFlight += batch.size();
        changed.signalAll(); // another exit's steps may be due on a free lane now
        lock.unlock();
        float[][] logits = null;
        RuntimeException error = null;
        try {
            int n = batch.size();
            int[] tokens = new int[n];
            int[] starts = new int[n];
            List<InferenceSession> sessions = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                tokens[i] = batch.get(i).token;
                starts[i] = batch.get(i).start;
                sessions.add(batch.get(i).session);
            }
            try (NDManager scope = NDManager.newBaseManager()) {
                // a batch of one too: a session's cache stays where batched steps keep it
                logits = batched.forwardBatch(sessions, tokens, starts, batch.get(0).to, scope);
            }
        } catch (RuntimeException e) {
            error = e;
        } finally {
            lock.lock();
            running--;
            inFlight -= batch.size();
            batches++;
            rows += batch.size();
            for (int i = 0; i < batch.size(); i++) {
                Step s = batch.get(i);
                s.logits = logits == null ? null : logits[i];
                s.error = error;
                s.done = true;
            }
            changed.signalAll();
        }
    }

    private void joined() {
        lock.lock();
        try {
            decoding++;
        } finally {
            lock.unlock();
        }
    }

    private void left() {
        lock.lock();
        try {
            decoding--;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** One session's pending step; its result fields are written under the lock. */
    private static final class Step {
        final InferenceSession session;
        final int token;
        final int start;
        final int to;
        final long arrived;
        float[] logits;
        RuntimeException error;
        /** In a batch that another thread runs. */
        boolean taken;
        boolean done;

        Step(InferenceSession session, int token, int start, int to, long arrived) {
            this.session = session;
            this.token = token;
            this.start = start;
            this.to = to;
            this.arrived = arrived;
        }
    }

    /** The engine's model with batching sessions. */
    private final class Batching implements LanguageModel {
        @Override
        public int vocabularySize() {
            return engine.vocabularySize();
        }

        @Override
        public int contextLength() {
            return engine.contextLength();
        }

        @Override
        public int layers() {
            return engine.layers();
        }

        @Override
        public List<Integer> exits() {
            return engine.exits();
        }

        @Override
        public OptionalInt eosToken() {
            return engine.eosToken();
        }

        @Override
        public InferenceSession open(NDManager manager) {
            InferenceSession inner = engine.open(manager);
            return batched.batchable(inner) ? new Session(inner) : inner;
        }
    }

    /** A session whose one-token {@link #forward} is batched; every other call is the engine's. */
    private final class Session implements InferenceSession {
        private final InferenceSession inner;
        private boolean joined;

        Session(InferenceSession inner) {
            this.inner = inner;
        }

        @Override
        public float[] forward(int[] tokens, int start, int to, NDManager manager) {
            if (tokens.length != 1) {
                return inner.forward(tokens, start, to, manager);
            }
            if (!joined) {
                joined = true;
                joined();
            }
            return step(inner, tokens[0], start, to);
        }

        @Override
        public int cachedLength(int layer) {
            return inner.cachedLength(layer);
        }

        @Override
        public NDArray embed(int[] tokens, int start, NDManager manager) {
            return inner.embed(tokens, start, manager);
        }

        @Override
        public NDArray run(NDArray hidden, int from, int to, int start, NDManager manager) {
            return inner.run(hidden, from, to, start, manager);
        }

        @Override
        public NDArray logits(NDArray hidden, NDManager manager) {
            return inner.logits(hidden, manager);
        }

        @Override
        public Forward forwardKeeping(int[] tokens, int start, int to, boolean logits, NDManager manager) {
            return inner.forwardKeeping(tokens, start, to, logits, manager);
        }

        @Override
        public Forward runForward(NDArray hidden, int from, int to, int start, boolean logits, NDManager manager) {
            return inner.runForward(hidden, from, to, start, logits, manager);
        }

        @Override
        public float[] runLogits(NDArray hidden, int from, int to, int start, NDManager manager) {
            return inner.runLogits(hidden, from, to, start, manager);
        }

        @Override
        public void crop(int length) {
            inner.crop(length);
        }

        @Override
        public void crop(int layer, int length) {
            inner.crop(layer, length);
        }

        @Override
        public void close() {
            try {
                inner.close();
            } finally {
                if (joined) {
                    left();
                }
            }
        }
    }
}
