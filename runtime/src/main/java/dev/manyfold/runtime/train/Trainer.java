package dev.manyfold.runtime.train;

import dev.manyfold.runtime.model.TensorNames;
import dev.manyfold.runtime.data.TrainingData;
import dev.manyfold.runtime.data.HostBatch;
import static java.util.Objects.requireNonNull;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.manyfold.api.Globs;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.CheckpointStore;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.model.LinearSite;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.Ops;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The training loop: per optimiser step, {@code accumulate} micro-batches each in its own
 * scope, the objective's loss back-propagated, global-norm clipping, the optimiser update,
 * mask updates, evaluation and atomic checkpoints. Each step's arrays live in one
 * sub-manager closed at the end of the step.
 */
public final class Trainer {
    private final Model model;
    private final TrainingData data;
    private final Objective objective;
    private final TrainConfig config;
    private final List<MaskStrategy> masks;
    private final List<SubModel> evalSubModels;
    private final Path runDir;
    private final Progress progress;
    private final Map<String, String> metadata;
    private final MetricsLog metrics;
    /** Weight tensor name → the mask strategy whose pruned-weight decay applies to it. */
    private final Map<String, MaskStrategy> decaying = new LinkedHashMap<>();
    private final Map<String, LinearSite> sitesByWeight = new LinkedHashMap<>();

    /** The outcome of a run. */
    public record Summary(long steps, double finalLoss, double seconds, double itemsPerSecond, List<Evaluator.Result> eval,
            Path checkpoint, List<Double> losses) {}

    public Trainer(Model model, TrainingData data, Objective objective, TrainConfig config, List<MaskStrategy> masks,
            List<SubModel> evalSubModels, Path runDir, Progress progress, Map<String, String> metadata) {
        this.model = requireNonNull(model, "model is null");
        this.data = requireNonNull(data, "data is null");
        this.objective = requireNonNull(objective, "objective is null");
        this.config = requireNonNull(config, "config is null");
        this.masks = List.copyOf(masks);
        this.evalSubModels = List.copyOf(evalSubModels);
        this.runDir = requireNonNull(runDir, "runDir is null");
        this.progress = requireNonNull(progress, "progress is null");
        this.metadata = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        this.metrics = new MetricsLog(runDir.resolve("metrics.jsonl"));
    }

    /**
     * Trains to {@code config.steps()}; with {@code resume} present, restores weights,
     * optimiser state and step from it and continues.
     */
    public Summary run(Checkpoint resume) {
        NDManager root = model.parameters().manager();
        List<Double> losses = new ArrayList<>();
        try (Optimizer optimizer = new Optimizer(config, root)) {
            long start = 0;
            if (resume != null) {
                start = restore(resume, optimizer);
                metrics.dropAfter(start);
                progress.line(String.format(Locale.ROOT, "resumed from step %d", start));
            } else {
                updateMasks(0);
            }
            long itemsPerStep = itemsPerStep();
            progress.start(start);
            double lastLoss = Double.NaN;
            Path lastCheckpoint = null;
            List<Evaluator.Result> eval = List.of();
            for (long step = start + 1; step <= config.steps(); step++) {
                double lr = Schedule.lr(config, step);
                double[] lossAndNorm = step(step, lr, optimizer, root);
                double loss = lossAndNorm[0];
                double gradNorm = lossAndNorm[1];
                losses.add(loss);
                lastLoss = loss;
                if (!masks.isEmpty()) {
                    updateMasks(step);
                }
                metrics.write(String.format(Locale.ROOT, "{\"step\":%d,\"loss\":%.6f,\"lr\":%.6e,\"grad_norm\":%.6f,\"elapsed_s\":%.3f}",
                        step, loss, lr, gradNorm, progress.elapsedSeconds()));
                progress.step(step, loss, lr, itemsPerStep);
                boolean last = step == config.steps();
                if (last || (config.evalEvery() > 0 && step % config.evalEvery() == 0)) {
                    eval = evaluate(step);
                }
                if (last || (config.checkpointEvery() > 0 && step % config.checkpointEvery() == 0)) {
                    lastCheckpoint = checkpoint(step, optimizer);
                }
            }
            double seconds = progress.elapsedSeconds();
            long done = config.steps() - start;
            return new Summary(config.steps(), lastLoss, seconds, done == 0 ? 0 : done * itemsPerStep / seconds, eval,
                    lastCheckpoint, losses);
        }
    }

    /** One optimiser step: micro-batches, backward, clipping, update. Returns {loss, grad norm}. */
    private double[] step(long step, double lr, Optimizer optimizer, NDManager root) {
        try (NDManager scope = root.newSubManager()) {
            double loss = 0;
            model.setTraining(true);
            try {
                for (int micro = 0; micro < config.accumulate(); micro++) {
                    Batch batch = data.train(step, micro).toBatch(scope);
                    Random random = new Random(config.seed() * 1_000_003L + step * 1_009L + micro);
                    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                        NDArray l = checkedLoss(objective.loss(model, batch, step, random));
                        collector.backward(config.accumulate() == 1 ? l : dev.manyfold.api.objective.Scalars.dividedBy(l, config.accumulate()));
                        loss += (l.getDataType() == ai.djl.ndarray.types.DataType.FLOAT32 ? l : l.toType(ai.djl.ndarray.types.DataType.FLOAT32, false))
                                .getFloat() / config.accumulate();
                    }
                }
            } finally {
                model.setTraining(false);
            }
            if (!Double.isFinite(loss)) {
                // refuse before the update touches the weights, so the last checkpoint stays the truth
                throw diverged("loss", loss, step);
            }
            return new double[] {loss, applyUpdate(optimizer, lr, step, scope)};
        }
    }

    /**
     * Training stopped at the first non-finite loss or gradient, before the update: the
     * message names the step and the likely cause among the recipe's settings.
     */
    private dev.manyfold.api.ConfigException diverged(String what, double value, long step) {
        return diverged(what, value, step, "");
    }

    /** As {@link #diverged(String, double, long)}, with {@code detail} right after "at step N". */
    private dev.manyfold.api.ConfigException diverged(String what, double value, long step, String detail) {
        String cause;
        if (config.weightDecay() * config.lr() >= 2) {
            cause = "train.weight-decay " + config.weightDecay() + " times train.lr " + config.lr() + " is at least 2, so each "
                    + "step multiplies the weights by 1 - lr x weight-decay <= -1 and they grow without bound; lower train.weight-decay";
        } else if (step == 1) {
            cause = "it happened at the first step, before any update: the starting weights (train.init) or the data give a "
                    + "non-finite value, not the learning rate";
        } else {
            cause = "the updates diverged: lower train.lr (now " + config.lr() + ")"
                    + (config.clip() > 0 ? "" : " or enable train.clip (now 0, off)");
        }
        return new dev.manyfold.api.ConfigException("train", what + " became " + value + " at step " + step + detail + "; " + cause
                + ". Nothing of this step was written; the last checkpoint is intact", "settings under which training stays finite");
    }

    /**
     * The objective's loss, checked: a floating scalar of any precision is accepted (backward
     * runs in its own type, its value is read as float32); anything else is refused naming the
     * objective and its plugin.
     */
    private NDArray checkedLoss(NDArray loss) {
        String who = dev.manyfold.runtime.host.PluginCalls.origin(objective);
        if (loss == null) {
            throw new IllegalStateException(who + " returned no loss (null)");
        }
        if (loss.getShape().size() != 1 || !loss.getDataType().isFloating()) {
            throw new IllegalStateException(who + " returned a loss of shape " + loss.getShape() + " and type " + loss.getDataType()
                    + "; an objective must return a floating-point scalar");
        }
        return loss;
    }

    /** Timing of {@link #benchmark}. */
    public record Timing(int steps, double seconds, double stepsPerSecond, double itemsPerSecond) {}

    /**
     * Runs {@code warmup} untimed and then {@code steps} timed optimiser steps: no
     * evaluation, metrics or checkpoints. The model's weights change.
     */
    public Timing benchmark(int warmup, int steps) {
        NDManager root = model.parameters().manager();
        try (Optimizer optimizer = new Optimizer(config, root)) {
            updateMasks(0);
            for (int i = 1; i <= warmup; i++) {
                step(i, Schedule.lr(config, i), optimizer, root);
            }
            long t0 = System.nanoTime();
            for (int i = warmup + 1; i <= warmup + steps; i++) {
                step(i, Schedule.lr(config, i), optimizer, root);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            return new Timing(steps, seconds, steps / seconds, steps * itemsPerStep() / seconds);
        }
    }

    private long itemsPerStep() {
        HostBatch probe = data.train(1, 0);
        return (long) config.accumulate() * (data.isText() ? probe.labelCount() : probe.size());
    }

    /** Clips by global norm, updates every trainable tensor, zeroes gradients; returns the norm. */
    private double applyUpdate(Optimizer optimizer, double lr, long step, NDManager scope) {
        Map<String, NDArray> grads = new LinkedHashMap<>();
        List<String> nonFinite = new ArrayList<>();
        double firstNonFinite = 0;
        double sq = 0;
        for (String name : model.parameters().trainable()) {
            NDArray p = model.parameters().get(name);
            NDArray g = gradientIfReached(p);
            if (g == null) {
                if (!optimizer.hasState(name)) {
                    continue; // not reached yet in this run: no update, no decay
                }
                // reached before the checkpoint this run resumed from: a zero gradient, as
                // the uninterrupted run (whose gradient is defined, and zeroed) would have
                g = p.zerosLike();
            }
            g.attach(scope);
            grads.put(name, g);
            double gsq = g.square().sum().getFloat();
            if (!Double.isFinite(gsq) && nonFinite.add(name) && nonFinite.size() == 1) {
                firstNonFinite = nonFinite(g);
            }
            sq += gsq;
        }
        if (!nonFinite.isEmpty()) {
            // named in creation order; the backward pass runs the other way, so the last named is nearest the loss
            String more = nonFinite.size() == 1 ? "" : " (non-finite in " + nonFinite.size() + " of " + grads.size() + " gradients: "
                    + String.join(", ", nonFinite.size() <= 6 ? nonFinite : nonFinite.subList(nonFinite.size() - 6, nonFinite.size()))
                    + (nonFinite.size() <= 6 ? "" : ", the last 6") + ")";
            throw diverged("gradient of " + nonFinite.get(0), firstNonFinite, step, more); // before any tensor is updated
        }
        double norm = Math.sqrt(sq);
        if (!Double.isFinite(norm)) {
            throw diverged("gradient norm", norm, step); // each tensor's finite, the sum overflowed: before any update
        }
        double scale = config.clip() > 0 && norm > config.clip() ? config.clip() / norm : 1.0;
        for (Map.Entry<String, NDArray> e : grads.entrySet()) {
            NDArray g = scale == 1.0 ? e.getValue() : e.getValue().mul(scale);
            NDArray param = model.parameters().get(e.getKey());
            MaskStrategy strategy = decaying.get(e.getKey());
            Optimizer.DecayPlacement placement = strategy == null ? Optimizer.DecayPlacement.IN_ADAM
                    : strategy.prunedDecayAfterStep() ? Optimizer.DecayPlacement.AFTER_STEP
                    : strategy.prunedDecayInGradient() ? Optimizer.DecayPlacement.IN_GRADIENT : Optimizer.DecayPlacement.IN_ADAM;
            optimizer.update(e.getKey(), param, g, prunedDecay(e.getKey(), param, step, scope), placement, lr, step, scope);
            e.getValue().muli(0);
        }
        model.parameters().touch(); // values changed in place: derived caches (inference weights) are stale
        return norm;
    }

    /** NaN when the array holds a NaN, otherwise the infinity of the first infinite element's sign (or of its squares' sum). */
    static double nonFinite(NDArray g) {
        NDArray f = g.getDataType() == ai.djl.ndarray.types.DataType.FLOAT32 ? g : g.toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
        float[] values = f.toFloatArray();
        for (float v : values) {
            if (Float.isNaN(v)) {
                return Double.NaN;
            }
        }
        for (float v : values) {
            if (Float.isInfinite(v)) {
                return v;
            }
        }
        return Double.POSITIVE_INFINITY;
    }

    /**
     * The parameter's gradient, or null while no backward pass has reached it. DJL's
     * {@code getGradient()} cannot tell: on PyTorch it returns a fresh zeros array for an
     * undefined gradient instead of throwing, which would hand AdamW a zero gradient and
     * let weight decay shrink tensors the objective never uses.
     */
    private static NDArray gradientIfReached(NDArray p) {
        return dev.manyfold.runtime.engine.PyTorchEngine.gradientIfReached(p);
    }

    /**
     * {@code λ(t)·(1 − M)⊙W} for a weight whose site carries a mask from a strategy with a
     * positive {@link MaskStrategy#prunedDecay}; null otherwise.
     */
    private NDArray prunedDecay(String tensor, NDArray param, long step, NDManager scope) {
        MaskStrategy strategy = decaying.get(tensor);
        if (strategy == null) {
            return null;
        }
        double lambda = strategy.prunedDecay(step, config.steps());
        LinearSite site = sitesByWeight.get(tensor);
        if (lambda <= 0 || site == null || site.mask() == null) {
            return null;
        }
        return Ops.own(scope, site.mask().mul(-1)).add(1).mul(param).mul(lambda);
    }

    private void updateMasks(long step) {
        for (MaskStrategy strategy : masks) {
            boolean due = step == 0 || (strategy.updateEvery() > 0 && step % strategy.updateEvery() == 0);
            if (!due) {
                continue;
            }
            List<String> siteNames = Globs.select(strategy.targets(), model.sites().keySet());
            Map<String, float[]> norms = strategy.calibrationBatches() > 0
                    ? Calibration.inputNorms(model, siteNames, data, config, step, strategy.calibrationBatches())
                    : null;
            for (String siteName : siteNames) {
                LinearSite site = model.site(siteName);
                String maskName = TensorNames.mask(siteName);
                NDManager owner = model.parameters().manager();
                NDArray mask = norms == null ? strategy.computeMask(siteName, site.weight(), step, owner)
                        : strategy.computeMask(siteName, site.weight(), norms.get(siteName), step, owner);
                if (model.parameters().contains(maskName)) {
                    model.parameters().assign(maskName, mask);
                    mask.close();
                } else {
                    model.parameters().add(maskName, mask, false);
                }
                bindMask(site, model.parameters().get(maskName), strategy);
            }
        }
    }

    private List<Evaluator.Result> evaluate(long step) {
        List<HostBatch> batches = data.validation(50);
        List<Evaluator.Result> results = new ArrayList<>();
        for (SubModel sub : evalSubModels) {
            Evaluator.Result r = Evaluator.evaluate(model, batches, sub, model.parameters().manager());
            results.add(r);
            metrics.write(String.format(Locale.ROOT, "{\"step\":%d,\"eval\":\"%s\",\"loss\":%.6f,\"accuracy\":%.6f}", step, sub, r.loss(),
                    r.accuracy()));
        }
        if (results.isEmpty()) {
            return results;
        }
        Evaluator.Result last = results.get(results.size() - 1);
        progress.line(String.format(Locale.ROOT, "eval step %d: %s loss %.4f accuracy %.2f%%", step, last.subModel(), last.loss(),
                100 * last.accuracy()));
        return results;
    }

    private Path checkpoint(long step, Optimizer optimizer) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        model.parameters().all().forEach((name, array) -> tensors.put(name, Tensor.of(name, array)));
        optimizer.state().forEach((name, array) -> tensors.put(name, Tensor.of(name, array)));
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put("step", Long.toString(step));
        return CheckpointStore.keepingLast(3).save(runDir, step, tensors, meta);
    }

    private long restore(Checkpoint checkpoint, Optimizer optimizer) {
        long step = resumeStep(checkpoint, config.steps());
        try (NDManager m = model.parameters().manager().newSubManager()) {
            Map<String, NDArray> optim = new LinkedHashMap<>();
            for (Tensor t : checkpoint.tensors().values()) {
                NDArray a = t.toNDArray(m);
                if (TensorNames.isOptimizerState(t.name())) {
                    optim.put(t.name(), a);
                } else if (TensorNames.isMask(t.name()) && !model.parameters().contains(t.name())) {
                    NDArray copy = a.duplicate();
                    model.parameters().add(t.name(), copy, false);
                    String siteName = TensorNames.maskedSite(t.name());
                    bindMask(model.site(siteName), copy, strategyFor(siteName));
                } else {
                    model.parameters().assign(t.name(), a);
                }
            }
            optimizer.restore(optim);
        }
        return step;
    }

    /**
     * The step a checkpoint was written at: its {@code step} metadata, a decimal integer in
     * {@code [0, steps]}.
     *
     * @throws dev.manyfold.runtime.checkpoint.CheckpointException naming the file otherwise
     */
    static long resumeStep(Checkpoint checkpoint, long steps) {
        String value = checkpoint.metadata().get("step");
        if (value == null) {
            throw new dev.manyfold.runtime.checkpoint.CheckpointException(checkpoint.file()
                    + ": no step in the metadata; cannot resume (accepted: a checkpoint written by manyfold train)");
        }
        if (!value.matches("0|[1-9][0-9]{0,17}") || Long.parseLong(value) > steps) {
            String shown = value.length() > 40 ? value.substring(0, 40) + "..." : value;
            throw new dev.manyfold.runtime.checkpoint.CheckpointException(checkpoint.file() + ": metadata step \"" + shown
                    + "\" is not a step of this run (accepted: an integer in [0, " + steps + "], the recipe's train.steps)");
        }
        return Long.parseLong(value);
    }

    /** Sets a site's mask and remembers its strategy for the pruned-weight decay. */
    private void bindMask(LinearSite site, NDArray mask, MaskStrategy strategy) {
        site.setMask(mask, strategy != null && strategy.straightThrough());
        if (strategy != null) {
            decaying.put(site.weight().getName(), strategy);
            sitesByWeight.put(site.weight().getName(), site);
        }
    }

    /** The first mask strategy targeting a site, or null. */
    private MaskStrategy strategyFor(String site) {
        for (MaskStrategy s : masks) {
            if (Globs.select(s.targets(), List.of(site)).size() == 1) {
                return s;
            }
        }
        return null;
    }

    /** Appends JSON lines to the run's metrics file. */
    static final class MetricsLog {
        private static final java.util.regex.Pattern STEP = java.util.regex.Pattern.compile("\\{\"step\":(\\d+),.*}");
        private final Path file;

        MetricsLog(Path file) {
            this.file = file;
        }

        void write(String json) {
            try {
                Files.createDirectories(file.getParent());
                Files.writeString(file, json + "\n", java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            } catch (IOException e) {
                // like a failed checkpoint write: a clear message, earlier checkpoints intact
                throw new dev.manyfold.runtime.checkpoint.CheckpointException(file + ": cannot write metrics (" + e
                        + "); the checkpoints written so far are intact and --resume continues from the latest", e);
            }
        }

        /**
         * On resume: drops the lines of steps after {@code step} (and any torn line), which a
         * run killed after its last checkpoint left behind and the resumed run writes again.
         */
        void dropAfter(long step) {
            if (!Files.exists(file)) {
                return;
            }
            try {
                List<String> kept = new ArrayList<>();
                for (String line : Files.readAllLines(file)) {
                    java.util.regex.Matcher m = STEP.matcher(line);
                    if (m.matches() && Long.parseLong(m.group(1)) <= step) {
                        kept.add(line);
                    }
                }
                Path temp = Files.createTempFile(file.getParent(), "." + file.getFileName(), ".tmp");
                Files.write(temp, kept);
                Files.move(temp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException | NumberFormatException e) {
                throw new IllegalStateException("cannot rewrite metrics " + file + " for the resume from step " + step + ": " + e, e);
            }
        }
    }
}
