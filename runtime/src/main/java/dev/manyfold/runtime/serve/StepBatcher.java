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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching of the one-token decode steps of concurrent requests: the
 * {@link #model()} it hands to decoders opens sessions whose {@link InferenceSession#forward}
 * of one token hands the step to this batcher's scheduler thread and waits for its row. The
 * scheduler runs the waiting steps as one {@link BatchedDecoding#forwardBatch} per iteration;
 * requests join (after their prompt's prefill, which runs on the request's own thread) and
 * leave (when their session closes) between iterations. Everything else ({@code run},
 * {@code logits}, {@code crop}, a session the engine cannot batch) goes straight to the
 * engine's own session, so any decoder keeps working; each row's logits equal the session's
 * own step up to float rounding.
 *
 * <p>Scheduling: an iteration starts when every joined session's step is waiting, or when the
 * oldest waiting step has waited {@code linger} (a session still writing its last token to a
 * slow client does not hold the others up longer). It takes up to {@code maxBatch} steps of
 * the oldest waiting step's exit, oldest first, so no exit and no request waits behind more
 * than one batch of others. One thread runs every batch: one forward at a time, each waiter
 * woken once per step. On an engine whose {@link BatchedDecoding#loneStepOnCallerThread()},
 * while only one session decodes and no step waits, that session runs its step (a batch of
 * one) on its own thread, without the hand-off.
 */
final class StepBatcher implements AutoCloseable {
    private final LanguageModel engine;
    private final BatchedDecoding batched;
    /** {@link BatchedDecoding#loneStepOnCallerThread()}. */
    private final boolean inline;
    private final int maxBatch;
    private final long lingerNanos;
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when a step arrives or a session leaves: the scheduler may have a batch to run. */
    private final Condition work = lock.newCondition();
    /** Steps waiting for a batch, oldest first. */
    private final List<Step> waiting = new ArrayList<>();
    private final Thread scheduler;
    /** Held while a forward runs: the scheduler's batches and a lone session's own steps never overlap. */
    private final ReentrantLock forwarding = new ReentrantLock();
    /** Sessions that have asked for a batched step and are not closed. */
    private int decoding;
    private long batches;
    private long rows;
    private boolean closed;

    /**
     * @param engine a model that is also {@link BatchedDecoding}
     * @param maxBatch the most steps in one batch (at least 2)
     * @param lingerMicros how long the oldest waiting step waits for others
     */
    StepBatcher(LanguageModel engine, int maxBatch, long lingerMicros) {
        this.engine = requireNonNull(engine, "engine is null");
        if (!(engine instanceof BatchedDecoding b)) {
            throw new IllegalArgumentException("the model " + engine.getClass().getSimpleName() + " cannot batch decode steps");
        }
        if (maxBatch < 2 || lingerMicros < 0) {
            throw new IllegalArgumentException("maxBatch must be >= 2 and linger >= 0, got " + maxBatch + ", " + lingerMicros);
        }
        this.batched = b;
        this.inline = b.loneStepOnCallerThread();
        this.maxBatch = maxBatch;
        this.lingerNanos = TimeUnit.MICROSECONDS.toNanos(lingerMicros);
        this.scheduler = new Thread(this::schedule, "manyfold-batch-scheduler");
        scheduler.setDaemon(true);
        scheduler.start();
    }

    /** Whether {@code model} can be batched by this class. */
    static boolean supports(LanguageModel model) {
        return model instanceof BatchedDecoding b && b.canBatch();
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

    /** Stops the scheduler after the batch it runs; steps still waiting fail. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            work.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            scheduler.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private float[] step(InferenceSession session, int token, int start, int to) {
        Step mine = new Step(session, token, start, to, System.nanoTime());
        boolean alone;
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the batcher is closed");
            }
            alone = inline && decoding == 1 && waiting.isEmpty();
            if (!alone) {
                waiting.add(mine);
                if (waiting.size() >= decoding || waiting.size() == 1) {
                    work.signal();
                }
            }
        } finally {
            lock.unlock();
        }
        if (alone) {
            // The only decoding session: its step runs on its own thread (no hand-off to the
            // scheduler and back), still one forward at a time with the scheduler's batches.
            run(List.of(mine));
            if (mine.error != null) {
                throw mine.error;
            }
            return mine.logits;
        }
        boolean interrupted = false;
        while (true) {
            try {
                mine.done.await(); // a step in flight touches this session: wait for it to end, then pass the interrupt on
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (mine.error != null) {
            throw mine.error;
        }
        return mine.logits;
    }

    /** The scheduler thread: one batched forward per iteration, while not closed. */
    private void schedule() {
        while (true) {
            List<Step> batch;
            lock.lock();
            try {
                while (true) {
                    if (closed) {
                        for (Step s : waiting) {
                            s.error = new IllegalStateException("the batcher closed before this step ran");
                            s.done.countDown();
                        }
                        waiting.clear();
                        return;
                    }
                    if (!waiting.isEmpty()) {
                        long waited = System.nanoTime() - waiting.get(0).arrived;
                        if (waiting.size() >= decoding || waited >= lingerNanos) {
                            break;
                        }
                        work.awaitNanos(lingerNanos - waited);
                    } else {
                        work.await();
                    }
                }
                batch = take();
            } catch (InterruptedException e) {
                continue; // only close() stops the scheduler
            } finally {
                lock.unlock();
            }
            run(batch);
        }
    }

    /** Under the lock: up to {@code maxBatch} waiting steps of the oldest one's exit, oldest first. */
    private List<Step> take() {
        int to = waiting.get(0).to;
        List<Step> batch = new ArrayList<>();
        for (Iterator<Step> it = waiting.iterator(); it.hasNext() && batch.size() < maxBatch;) {
            Step s = it.next();
            if (s.to == to) {
                batch.add(s);
                it.remove();
            }
        }
        return batch;
    }

    /** On the scheduler thread (or a lone session's), without the lock; one at a time. */
    private void run(List<Step> batch) {
        float[][] logits = null;
        RuntimeException error = null;
        forwarding.lock();
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
            forwarding.unlock();
        }
        lock.lock();
        try {
            batches++;
            rows += batch.size();
        } finally {
            lock.unlock();
        }
        for (int i = 0; i < batch.size(); i++) {
            Step s = batch.get(i);
            s.logits = logits == null ? null : logits[i];
            s.error = error;
            s.done.countDown();
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
            work.signal(); // the others may all be waiting now
        } finally {
            lock.unlock();
        }
    }

    /** One session's pending step; its result fields are written before {@link #done} opens. */
    private static final class Step {
        final InferenceSession session;
        final int token;
        final int start;
        final int to;
        final long arrived;
        final CountDownLatch done = new CountDownLatch(1);
        float[] logits;
        RuntimeException error;

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
