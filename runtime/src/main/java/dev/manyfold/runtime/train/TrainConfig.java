package dev.manyfold.runtime.train;

import dev.manyfold.api.Settings;
import java.util.List;

/**
 * The recipe's {@code train} section.
 *
 * @param steps optimiser steps (required)
 * @param batch examples per micro-batch
 * @param accumulate micro-batches per optimiser step (gradient accumulation)
 * @param lr peak learning rate
 * @param optimizer {@code adamw} or {@code sgd}
 * @param weightDecay decoupled weight decay (AdamW)
 * @param beta1 AdamW β1
 * @param beta2 AdamW β2
 * @param eps AdamW ε
 * @param schedule {@code cosine} (with warmup) or {@code constant}
 * @param warmup warm-up steps
 * @param clip global gradient-norm clip; 0 disables
 * @param seed run seed
 * @param evalEvery evaluate every N steps; 0 = only at the end
 * @param checkpointEvery checkpoint every N steps; 0 = only at the end
 * @param logEvery log a line every N steps
 * @param init a run directory or checkpoint whose tensors initialise the model (by name), or null
 * @param trainable globs over tensor names that are trained; all others are frozen
 */
public record TrainConfig(int steps, int batch, int accumulate, double lr, String optimizer, double weightDecay,
        double beta1, double beta2, double eps, String schedule, int warmup, double clip, long seed,
        int evalEvery, int checkpointEvery, int logEvery, String init, List<String> trainable) {

    /** What the data source needs to cut batches. */
    public dev.manyfold.runtime.data.Sampling sampling() {
        return new dev.manyfold.runtime.data.Sampling(batch, accumulate, seed);
    }

    private static final java.util.concurrent.atomic.AtomicLong PARSES = new java.util.concurrent.atomic.AtomicLong();

    /** How many times a train section has been parsed in this JVM (a run parses its own once; read by tests). */
    public static long parses() {
        return PARSES.get();
    }

    /** Reads and validates the section; unknown keys are refused. */
    public static TrainConfig from(Settings s) {
        PARSES.incrementAndGet();
        int steps = s.getInt("steps");
        s.check(steps >= 1, "steps", "must be >= 1, got " + steps, "a positive number of optimiser steps");
        int batch = s.getInt("batch", 32, 1, 1 << 16);
        int accumulate = s.getInt("accumulate", 1, 1, 1024);
        double lr = s.getDouble("lr", 1e-3);
        s.check(lr > 0 && lr < 10, "lr", "learning rate " + lr + " is out of range", "a number in (0, 10)");
        String optimizer = s.getChoice("optimizer", List.of("adamw", "sgd"), "adamw");
        double wd = s.getDouble("weight-decay", 0.0);
        s.check(wd >= 0, "weight-decay", "must be >= 0, got " + wd, "a non-negative number");
        double beta1 = s.getDouble("beta1", 0.9);
        double beta2 = s.getDouble("beta2", 0.999);
        s.check(beta1 >= 0 && beta1 < 1, "beta1", "must be in [0, 1), got " + beta1, "[0, 1)");
        s.check(beta2 >= 0 && beta2 < 1, "beta2", "must be in [0, 1), got " + beta2, "[0, 1)");
        double eps = s.getDouble("eps", 1e-8);
        s.check(eps > 0, "eps", "must be > 0, got " + eps, "a positive number");
        String schedule = s.getChoice("schedule", List.of("cosine", "constant"), "cosine");
        int warmup = s.getInt("warmup", 0, 0, steps);
        double clip = s.getDouble("clip", 1.0);
        s.check(clip >= 0, "clip", "must be >= 0, got " + clip, "a non-negative norm (0 disables clipping)");
        long seed = s.getLong("seed", 42);
        int evalEvery = s.getInt("eval-every", 0, 0, Integer.MAX_VALUE);
        int checkpointEvery = s.getInt("checkpoint-every", 0, 0, Integer.MAX_VALUE);
        int logEvery = s.getInt("log-every", Math.max(1, steps / 20), 1, Integer.MAX_VALUE);
        String init = s.getString("init", null);
        List<String> trainable = s.getStringList("trainable", List.of("**"));
        s.check(!trainable.isEmpty(), "trainable", "the list is empty: nothing would be trained", "globs over tensor names, e.g. [\"exit_heads.**\"]");
        return new TrainConfig(steps, batch, accumulate, lr, optimizer, wd, beta1, beta2, eps, schedule, warmup, clip,
                seed, evalEvery, checkpointEvery, logEvery, init, List.copyOf(trainable));
    }
}
