package dev.manyfold.runtime.model;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.ElasticModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A built model of one family: its parameters, linear sites and the dimensions it can be
 * cut along. Subclasses implement the forward pass for any {@link SubModel}.
 */
public abstract class Model implements ElasticModel, AutoCloseable {
    private final String family;
    private final ParameterStore parameters;
    private final Map<String, LinearSite> sites = new LinkedHashMap<>();
    private final Map<String, Object> config;
    private volatile Model teacher;
    private volatile boolean training;

    protected Model(String family, ParameterStore parameters, Map<String, Object> config) {
        this.family = requireNonNull(family, "family is null");
        this.parameters = requireNonNull(parameters, "parameters is null");
        // Sorted, not Map.copyOf: Map.of/copyOf iterate in an order salted per JVM, and this
        // map is serialised into every checkpoint (which must be byte-identical across runs).
        this.config = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(config));
    }

    /** The family name ({@code mlp}, {@code cnn}, {@code llama}). */
    public String family() {
        return family;
    }

    /** The model's structural configuration (stored in checkpoints to rebuild the model). */
    public Map<String, Object> config() {
        return config;
    }

    /**
     * Changes whenever a tensor value, a mask or an adapter of the model changes: caches of
     * derived weights compare it.
     */
    public long weightsVersion() {
        long v = parameters().version();
        for (LinearSite site : sites.values()) {
            v = v * 31 + site.changes();
        }
        return v;
    }

    /**
     * What masks leave of a sub-model: its dense parameter and FLOP counts next to the non-zero
     * parameters and the effective FLOPs (each zeroed weight saves its multiply-add, so a 2:4
     * site counts at half).
     *
     * @param maskedSites sites of the sub-model that carry a mask
     * @param zeros masked-out weights among them
     */
    public record Sparsity(long parameters, long nonZero, long flops, long effectiveFlops, int maskedSites, long zeros) {}

    /**
     * Counts the masked-out weights of the full model or of a depth-only sub-model (the
     * sites of layers below the depth, plus every site outside {@code layers.*}).
     *
     * @throws IllegalArgumentException for a sub-model that slices widths (its masks' prefix
     *     slices are not counted)
     */
    public Sparsity sparsity(SubModel sub) {
        for (String d : sub.budgets().keySet()) {
            if (!d.equals(DEPTH)) {
                throw new IllegalArgumentException("sparsity is counted for the full model and depth budgets, not " + sub);
            }
        }
        int depth = sub.budgetOr(DEPTH, Integer.MAX_VALUE);
        long zeros = 0;
        int masked = 0;
        for (LinearSite site : sites.values()) {
            if (site.mask() == null || layerOf(site.name()) >= depth) {
                continue;
            }
            masked++;
            try (NDManager scratch = parameters().manager().newSubManager()) {
                NDArray kept = site.mask().toType(ai.djl.ndarray.types.DataType.FLOAT64, true);
                kept.attach(scratch);
                zeros += site.mask().getShape().size() - Math.round(kept.sum().getDouble());
            }
        }
        long params = parameterCount(sub);
        long flops = flops(sub);
        return new Sparsity(params, params - zeros, flops, flops - 2 * zeros, masked, zeros);
    }

    /** The layer index of a {@code layers.<i>.} site, or -1 for sites outside the layers. */
    private static int layerOf(String site) {
        if (!site.startsWith(TensorNames.LAYERS)) {
            return -1;
        }
        int dot = site.indexOf('.', 7);
        try {
            return Integer.parseInt(site.substring(7, dot < 0 ? site.length() : dot));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    public ParameterStore parameters() {
        return parameters;
    }

    /** Linear sites by dotted name, in model order. */
    public Map<String, LinearSite> sites() {
        return java.util.Collections.unmodifiableMap(sites);
    }

    public LinearSite site(String name) {
        LinearSite s = sites.get(name);
        if (s == null) {
            throw new IllegalArgumentException("no linear site " + name + " (sites: " + sites.keySet() + ")");
        }
        return s;
    }

    protected LinearSite addSite(String name, NDArray weight, NDArray bias) {
        LinearSite site = new LinearSite(name, weight, bias);
        sites.put(name, site);
        return site;
    }

    /** Supported dimensions and their maximum budgets. */
    public abstract Map<String, Integer> dimensions();

    /** Extra structural sizes (heads, kv-heads, dim, vocab...). */
    protected abstract Map<String, Integer> sizes();

    /** Parameters a sub-model uses (the slice it reads, adapters excluded). */
    public abstract long parameterCount(SubModel subModel);

    /** Multiply-accumulate FLOPs (×2) of one example (one token for language models). */
    public abstract long flops(SubModel subModel);

    /** A sub-model as a standalone plain model: its configuration and its (sliced, merged) tensors. */
    public record Exported(Map<String, Object> config, Map<String, NDArray> tensors) {}

    /**
     * Cuts a sub-model out as a plain model of that size: every site's effective weight
     * (mask and adapters folded in) and every other tensor sliced to the sub-model's
     * prefix. The arrays are owned by {@code manager}.
     */
    public abstract Exported export(SubModel subModel, NDManager manager);

    /** Copies {@code config} with some entries replaced. */
    protected Map<String, Object> configWith(Object... keyValues) {
        Map<String, Object> c = new LinkedHashMap<>(config);
        for (int i = 0; i < keyValues.length; i += 2) {
            c.put((String) keyValues[i], keyValues[i + 1]);
        }
        return c;
    }

    /** The effective weight of a site's prefix, detached and owned by {@code manager}. */
    protected NDArray exportSite(NDManager manager, String site, int rows, int cols) {
        return site(site).effectiveWeight(manager, rows, cols).duplicate().stopGradient();
    }

    /** A 1-D or 2-D tensor's prefix copy, owned by {@code manager}. */
    protected NDArray exportPrefix(NDManager manager, String tensor, int... sizes) {
        NDArray t = parameters.get(tensor);
        NDArray view = sizes.length == 1 ? Ops.prefix(manager, t, sizes[0]) : Ops.prefix(manager, t, sizes[0], sizes[1]);
        return Ops.own(manager, view.duplicate()).stopGradient();
    }

    /** Exit depths a sub-model with this budget can produce; the depth dimension's name. */
    public static final String DEPTH = "depth";

    /**
     * Checks a sub-model against the model's dimensions.
     *
     * @throws ConfigException naming {@code path} when a budget does not fit
     */
    public void check(SubModel subModel, String path) {
        Map<String, Integer> dims = dimensions();
        subModel.budgets().forEach((dim, budget) -> {
            Integer max = dims.get(dim);
            if (max == null) {
                throw new ConfigException(path, "model family \"" + family + "\" has no dimension \"" + dim + "\"",
                        "dimensions " + dims.keySet());
            }
            if (budget < 1 || budget > max) {
                throw new ConfigException(path, dim + " budget " + budget + " does not fit the model", dim + " in [1, " + max + "]");
            }
        });
        checkStructure(subModel, path);
    }

    /** Family-specific checks (e.g. heads against grouped KV). */
    protected void checkStructure(SubModel subModel, String path) {}

    /** The model's shape as plugins see it. */
    public ModelShape shape() {
        // Sorted: plugins iterate these (samplers draw per dimension), so their order must not
        // depend on the JVM's per-run Map.of salt.
        Map<String, Integer> dims = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(dimensions()));
        Map<String, Integer> sizes = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(sizes()));
        List<String> siteNames = List.copyOf(sites.keySet());
        Map<String, int[]> shapes = new LinkedHashMap<>();
        sites.forEach((n, s) -> shapes.put(n, new int[] {s.outFeatures(), s.inFeatures()}));
        String fam = family;
        return new ModelShape() {
            @Override
            public String family() {
                return fam;
            }

            @Override
            public Map<String, Integer> dimensions() {
                return dims;
            }

            @Override
            public OptionalInt size(String name) {
                Integer v = sizes.get(name);
                return v == null ? OptionalInt.empty() : OptionalInt.of(v);
            }

            @Override
            public List<String> sites() {
                return siteNames;
            }

            @Override
            public int[] siteShape(String site) {
                int[] s = shapes.get(site);
                if (s == null) {
                    throw new IllegalArgumentException("no linear site " + site);
                }
                return s.clone();
            }
        };
    }

    /**
     * Whether forward passes are training passes: layers that behave differently in training
     * (batch normalisation: batch statistics, running statistics updated) do so. False (eval)
     * unless the trainer sets it for its steps.
     */
    public boolean isTraining() {
        return training;
    }

    /** Switches training behaviour on or off (see {@link #isTraining()}). */
    public void setTraining(boolean training) {
        this.training = training;
    }

    /** Whether the model has batch normalisation (whose eval statistics may need recalibration). */
    public boolean hasBatchNorm() {
        return false;
    }

    /**
     * Gives a model with batch normalisation the training batches it recalibrates its
     * per-sub-model statistics on ({@code trainBatch.apply(i)} for {@code i = 0, 1, ...}).
     * Does nothing for a model without it.
     */
    public void useCalibrationData(java.util.function.IntFunction<dev.manyfold.runtime.data.HostBatch> trainBatch) {}

    // ---- Family knowledge the host asks for instead of testing the model's class ----------

    /** This model as a language model with depth exits (LLaMA); empty for classifiers. */
    public java.util.Optional<LayeredLanguageModel> languageModel() {
        return java.util.Optional.empty();
    }

    /**
     * Records the depths trained as exits (read by decoders). Families without exits ignore it.
     *
     * @param trainedExits exit depths; the full depth is always one
     */
    public void setExits(List<Integer> trainedExits) {}

    /**
     * Refuses data this model cannot take (e.g. rows longer than a language model's context,
     * token ids past an imported model's embedding). The default accepts everything.
     *
     * @param importedFrom the Hugging Face directory the model was imported from, if it was
     * @throws ConfigException naming the recipe path to change
     */
    public void checkData(ModelFactory.DataShape data, java.util.Optional<java.nio.file.Path> importedFrom) {}

    /**
     * The checkpoint tensors that initialise {@code tensor} when a checkpoint lacks it (e.g. a
     * per-exit head starts as a copy of the shared head), in order of preference; empty by default.
     */
    public List<String> initialisedFrom(String tensor) {
        return List.of();
    }

    /** The attention sites and heads of each layer (for head pruning); empty for families without attention. */
    public java.util.Optional<dev.manyfold.api.prune.AttentionLayout> attentionLayout() {
        return java.util.Optional.empty();
    }

    /** The frozen dense teacher set by the host for distillation ({@code runtime.job.Teacher}), if any. */
    @Override
    public java.util.Optional<ElasticModel> teacher() {
        return java.util.Optional.ofNullable(teacher);
    }

    /** Sets the frozen teacher (owned by this model's parameter manager). */
    public void setTeacher(Model teacher) {
        if (teacher == this) {
            throw new IllegalArgumentException("a model cannot be its own teacher");
        }
        this.teacher = teacher;
    }

    /** Total scalar count of the full model's base tensors (trainable or frozen, masks excluded). */
    public long totalParameters() {
        return parameterCount(SubModel.FULL);
    }

    @Override
    public void close() {
        parameters.close();
    }

    /** The manager of the parameters. */
    protected NDManager parameterManager() {
        return parameters.manager();
    }
}
