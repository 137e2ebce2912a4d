package dev.manyfold.runtime.job;

import dev.manyfold.runtime.model.TensorNames;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.adapter.AttachedAdapter;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.api.prune.AttentionLayout;
import dev.manyfold.api.prune.GlobalPruning;
import dev.manyfold.api.prune.PrunableAdapter;
import dev.manyfold.api.prune.PruneSite;
import dev.manyfold.api.prune.PruningPlan;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.CheckpointStore;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.host.ExtensionKind;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.model.LinearSite;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.Ops;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.train.TrainConfig;
import dev.manyfold.runtime.train.Trainer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A run of several training stages from one recipe (DSEE's tune → prune → recover):
 *
 * <pre>
 * train: { steps: 200, lr: 5e-3, init: runs/pretrained, trainable: ["adapters.**"] }   # the base train section
 * stages:
 *   - name: tune                     # default stage&lt;i&gt;
 *     train: { steps: 200 }          # overrides of the base train section for this stage
 *   - name: prune-recover
 *     prune: { type: dsee-prune, adapted: 0.2, others: 0.2 }   # a pruning step (Plugin.pruningSteps)
 *     train: { steps: 100, lr: 2e-3 }
 * </pre>
 *
 * <p>Everything is validated before the first step: the base recipe (model, data, adapters),
 * every stage's merged train section (errors at {@code stages[i].train.KEY}) and every prune
 * section, created against the model's shape (errors at {@code stages[i].prune.KEY}).
 *
 * <p>Stage 0 trains from the recipe (its {@code train.init} gives W0). Every later stage starts
 * from the previous stage's final weights: its prune step, if any, computes a
 * {@link PruningPlan} over all sites at once; fixed masks are set on the sites (no
 * straight-through; the adapters' deltas are masked too), kept heads slice the attention
 * weights and their adapters physically (the model is rebuilt with per-layer head counts). The
 * stage's start state is written atomically as {@code <run>/<i>-<name>/start.safetensors}
 * (with the stage's own recipe, so it loads like any checkpoint), then loaded and trained into
 * {@code <run>/<i>-<name>/}. A failing stage leaves the earlier stages' directories intact.
 * The last stage's final checkpoint is also saved in the run directory itself, so
 * {@code manyfold eval RUN} and {@code manyfold export RUN} see the final model.
 *
 * <p>After each prune step the job prints the trainable-parameter line, then
 * "nonzeros: X of Y site weights (Z%) || FLOPs/token: dense D, nonzero F (P%)" where dense
 * FLOPs are the model's analytic count and nonzero FLOPs {@code 2·Σ nnz(W_eff)} over all sites.
 */
public final class StagedJob {
    private StagedJob() {}

    /** Whether a recipe has a {@code stages} section. */
    public static boolean isStaged(Recipe recipe) {
        return recipe.asMap().containsKey("stages");
    }

    /** One finished stage. */
    public record StageResult(String name, Path directory, Trainer.Summary summary, String accounting) {}

    private record Stage(String name, String path, Map<String, Object> train, Optional<Settings> prune) {}

    /** Validates every stage, then runs them in order; returns their results. */
    public static List<StageResult> run(Manyfold host, Recipe recipe, Path runDir, PrintWriter out, boolean terminal) {
        return run(host, recipe, runDir, out, terminal, p -> { });
    }

    /** As {@link #run(Manyfold, Recipe, Path, PrintWriter, boolean)}, calling {@code prepared} with the first stage's run before any training. */
    public static List<StageResult> run(Manyfold host, Recipe recipe, Path runDir, PrintWriter out, boolean terminal,
            java.util.function.Consumer<Run> prepared) {
        requireNonNull(host, "host is null");
        validate(host, recipe, runDir); // everything validate checks, before anything is written
        List<Stage> stages = readStages(recipe);
        List<Recipe> stageRecipes = stageRecipes(recipe, stages);
        try {
            Files.createDirectories(runDir);
            Files.writeString(runDir.resolve("recipe.yaml"), recipe.toYaml());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to run directory " + runDir, e);
        }
        List<StageResult> results = new ArrayList<>();
        Path first = runDir.resolve("0-" + stages.get(0).name());
        Run p = TrainJob.prepare(host, stageRecipes.get(0), out, first);
        try {
            // Every prune step is created (and so validated) against the model before any training.
            List<GlobalPruning> pruners = new ArrayList<>();
            HostContext context = new HostContext(p.config().seed(), Optional.of(p.model().shape()), runDir, out::println, recipe.asMap());
            for (Stage st : stages) {
                pruners.add(st.prune().map(s -> pruner(host, s, context)).orElse(null));
            }
            checkCumulativeHeads(stages, pruners, p.model().shape());
            prepared.accept(p);
            out.printf("stage 0 (%s): %d steps%n", stages.get(0).name(), p.config().steps());
            Trainer.Summary summary = TrainJob.train(p, first, false, out, terminal);
            results.add(new StageResult(stages.get(0).name(), first, summary, ""));
            for (int i = 1; i < stages.size(); i++) {
                Stage st = stages.get(i);
                Path dir = runDir.resolve(i + "-" + st.name());
                Path start = dir.resolve("start.safetensors");
                String description = writeStart(p, pruners.get(i), st, stageRecipes.get(i), start, out);
                p.close();
                p = null;
                p = TrainJob.load(host, start, out);
                String accounting = "";
                if (pruners.get(i) != null) {
                    out.println("pruned (" + st.path() + ".prune): " + description);
                    accounting = accounting(p.model());
                    out.println(accounting);
                }
                out.printf("stage %d (%s): %d steps%n", i, st.name(), p.config().steps());
                summary = TrainJob.train(p, dir, false, out, terminal);
                results.add(new StageResult(st.name(), dir, summary, accounting));
            }
            // The final model at the top of the run directory, for eval and export.
            Checkpoint last = Checkpoint.load(summary.checkpoint());
            CheckpointStore.keepingAll().save(runDir, summary.steps(), last.tensors(), last.metadata());
            return results;
        } finally {
            if (p != null) {
                p.close();
            }
        }
    }

    /**
     * Applies one prune section to a trained model and writes the pruned start state (with the
     * model's own recipe, train section unchanged) to {@code start}; load it with
     * {@link TrainJob#load}. For ablations (for example |ΔW| against random heads without
     * recovery); {@link #run} does the same between stages.
     *
     * @param prune a prune section such as {@code { type: dsee-prune, heads: 1 }}
     * @return the plan's description
     */
    public static String prune(Manyfold host, Run p, Settings prune, Path start, PrintWriter out) {
        HostContext context = new HostContext(p.config().seed(), Optional.of(p.model().shape()), start.toAbsolutePath().getParent(),
                out::println, p.recipe().asMap());
        GlobalPruning pruner = pruner(host, prune, context);
        Map<String, Object> train = new LinkedHashMap<>(p.recipe().section("train").asMap());
        train.remove("init");
        Recipe recipe = p.recipe().with(Map.of("train", train), Set.of("stages"));
        return writeStart(p, pruner, new Stage("pruned", prune.path(), Map.of(), Optional.of(prune)), recipe, start, out);
    }

    /**
     * Every check {@link #run} makes before its first step (for {@code manyfold validate} and
     * {@code train} alike): stage names, each stage's merged train section, the first stage's
     * {@link TrainJob#check}, every prune step against the model's shape, and the heads the
     * prune steps remove together.
     *
     * @return the stage names, in order
     */
    public static List<String> validate(Manyfold host, Recipe recipe, Path workDirectory) {
        List<Stage> stages = readStages(recipe);
        List<Recipe> stageRecipes = stageRecipes(recipe, stages);
        // Prune steps first on their own (their settings), then with the model's shape after the first stage's checks.
        HostContext unshaped = new HostContext(42, Optional.empty(), workDirectory, line -> {}, recipe.asMap());
        for (Stage st : stages) {
            st.prune().ifPresent(s -> pruner(host, s, unshaped));
        }
        TrainJob.Checked checked = TrainJob.check(host, stageRecipes.get(0), workDirectory);
        HostContext context = new HostContext(checked.config().seed(), Optional.of(checked.shape()), workDirectory, line -> {},
                recipe.asMap());
        List<GlobalPruning> pruners = new ArrayList<>();
        for (Stage st : stages) {
            pruners.add(st.prune().map(s -> pruner(host, s, context)).orElse(null));
        }
        checkCumulativeHeads(stages, pruners, checked.shape());
        return stages.stream().map(Stage::name).toList();
    }

    /** Refuses stages whose head-pruning steps together would remove every head of a layer. */
    private static void checkCumulativeHeads(List<Stage> stages, List<GlobalPruning> pruners, dev.manyfold.api.ModelShape shape) {
        java.util.OptionalInt fewest = shape.size("layer-heads-min");
        if (fewest.isEmpty()) {
            return;
        }
        int removed = 0;
        for (int i = 0; i < stages.size(); i++) {
            if (pruners.get(i) == null || pruners.get(i).headsRemovedPerLayer() == 0) {
                continue;
            }
            removed += pruners.get(i).headsRemovedPerLayer();
            if (removed >= fewest.getAsInt()) {
                throw new ConfigException(stages.get(i).prune().orElseThrow().path(), "with the earlier stages' steps this removes " + removed
                        + " heads per layer, every head of a layer that has " + fewest.getAsInt(),
                        "at most " + (fewest.getAsInt() - 1) + " heads per layer over all stages");
            }
        }
    }

    /** Each stage's recipe: the base recipe with the stage's train keys merged in, each checked with its path. */
    private static List<Recipe> stageRecipes(Recipe recipe, List<Stage> stages) {
        Recipe base = recipe.with(Map.of(), Set.of("stages"));
        Map<String, Object> baseTrain = recipe.section("train").asMap();
        List<Recipe> stageRecipes = new ArrayList<>();
        for (int i = 0; i < stages.size(); i++) {
            Stage st = stages.get(i);
            Map<String, Object> merged = new LinkedHashMap<>(baseTrain);
            merged.putAll(st.train());
            if (i > 0) {
                merged.remove("init"); // later stages start from the previous stage
            }
            Settings check = Settings.of(st.path() + ".train", merged);
            TrainConfig.from(check);
            check.rejectUnknown();
            stageRecipes.add(base.with(Map.of("train", merged), Set.of()));
        }
        return stageRecipes;
    }

    private static List<Stage> readStages(Recipe recipe) {
        List<Settings> sections = recipe.sections("stages");
        if (sections.isEmpty()) {
            throw new ConfigException("stages", "no stages", "a list such as [ { name: tune, train: { steps: 100 } } ]");
        }
        if (!recipe.asMap().containsKey("train")) {
            throw new ConfigException("train", "required section is missing", "a train section; stages override its keys");
        }
        List<Stage> stages = new ArrayList<>();
        Set<String> names = new java.util.HashSet<>();
        for (int i = 0; i < sections.size(); i++) {
            Settings s = sections.get(i);
            String name = s.getString("name", "stage" + i);
            s.check(name.matches("[A-Za-z0-9_.-]+"), "name", "stage name \"" + name + "\" is not a plain file name",
                    "letters, digits, '_', '-' and '.'");
            s.check(names.add(name), "name", "stage name \"" + name + "\" is used twice", "distinct stage names");
            // train is checked merged (as stages[i].train), prune by its step's factory: both after this check
            s.markRead("train").markRead("prune");
            s.rejectUnknown();
            Map<String, Object> train = s.optionalSection("train").map(Settings::asMap).orElse(Map.of());
            Optional<Settings> prune = s.optionalSection("prune");
            s.check(i > 0 || prune.isEmpty(), "prune", "the first stage has nothing trained to prune", "prune in a later stage");
            stages.add(new Stage(name, s.path(), train, prune));
        }
        return stages;
    }

    /**
     * The stage's pruning step: a {@link dev.manyfold.api.prune.PruningStepFactory} of that
     * name (API 1.1), else, for API 1.0 plugins, a mask strategy that implements
     * {@link GlobalPruning}.
     */
    private static GlobalPruning pruner(Manyfold host, Settings s, HostContext context) {
        s.check(s.has("type"), "type", "required key is missing", "a pruning step such as dsee-prune");
        String type = s.getString("type");
        if (host.extensions().pruningSteps().containsKey(type) || !host.extensions().maskStrategies().containsKey(type)) {
            return host.extensions().create(host.extensions().pruningSteps(), ExtensionKind.PRUNING_STEP, type, s, context,
                    s.pathOf("type"));
        }
        MaskStrategy strategy = host.extensions().create(host.extensions().maskStrategies(), ExtensionKind.MASK_STRATEGY, type, s, context,
                s.pathOf("type"));
        if (!(strategy instanceof GlobalPruning global)) {
            throw new ConfigException(s.pathOf("type"), "mask strategy \"" + type + "\" is not a global pruning step",
                    "a pruning step: one of " + host.extensions().pruningSteps().keySet());
        }
        return global;
    }

    /**
     * Writes the start state of a stage: the previous model's tensors, pruned by the plan
     * (masks multiplied into existing ones; kept heads sliced), with the stage's recipe.
     */
    private static String writeStart(Run p, GlobalPruning pruner, Stage stage, Recipe stageRecipe, Path start,
            PrintWriter out) {
        Model model = p.model();
        Map<String, Object> modelConfig = new LinkedHashMap<>(model.config());
        String description = "";
        try (NDManager m = model.parameters().manager().newSubManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            model.parameters().all().forEach((n, a) -> tensors.put(n, a));
            if (pruner != null) {
                PruningPlan plan = Ops.withoutAutograd(m, () -> pruner.plan(pruneSites(model), model.attentionLayout(), m));
                description = pruner.describe(plan);
                plan.masks().forEach((site, mask) -> {
                    if (!model.sites().containsKey(site)) {
                        throw new IllegalStateException("the plan masks unknown site " + site);
                    }
                    String name = TensorNames.mask(site);
                    NDArray old = tensors.get(name);
                    NDArray combined = old == null ? mask : Ops.own(m, mask.mul(old));
                    tensors.put(name, combined);
                });
                if (plan.keptHeads().isPresent()) {
                    List<Integer> counts = sliceHeads(model, plan.keptHeads().get(), tensors, stage, m);
                    modelConfig.put("layer-heads", counts);
                }
            }
            Recipe withModel = stageRecipe.with(Map.of("model", modelConfig), Set.of());
            Map<String, Tensor> written = new LinkedHashMap<>();
            tensors.forEach((n, a) -> written.put(n, Tensor.of(n, a)));
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put(Checkpoint.FORMAT_VERSION, TrainJob.FORMAT_VERSION);
            metadata.put(Checkpoint.RECIPE, withModel.toYaml());
            metadata.put("family", model.family());
            metadata.put("model", TrainJob.toJson(modelConfig));
            metadata.put("stage", stage.name());
            metadata.put(Checkpoint.STEP, "0");
            try {
                Files.createDirectories(start.getParent());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create " + start.getParent(), e);
            }
            SafeTensors.write(start, written, metadata);
        }
        return description;
    }

    /** Every site with its W0 and adapters, in model order. */
    static Map<String, PruneSite> pruneSites(Model model) {
        Map<String, PruneSite> sites = new LinkedHashMap<>();
        model.sites().forEach((n, s) -> sites.put(n, new PruneSite(n, s.weight(), s.adapters())));
        return sites;
    }

    /**
     * Replaces, in {@code tensors}, every attention layer's q/k/v rows and o columns (and their
     * masks and adapters' tensors) by the kept heads'; returns the new per-layer head counts.
     */
    private static List<Integer> sliceHeads(Model model, List<int[]> kept, Map<String, NDArray> tensors, Stage stage, NDManager m) {
        AttentionLayout layout = model.attentionLayout().orElseThrow(() -> new ConfigException(stage.path() + ".prune",
                "structured pruning needs a model with attention heads (llama), not " + model.family(), "unstructured pruning"));
        if (layout.layers().stream().anyMatch(l -> l.kvHeads() != l.heads())) {
            throw new ConfigException(stage.path() + ".prune.heads", "structured pruning of a model with grouped KV heads",
                    "a model with kv-heads = heads");
        }
        List<Integer> counts = new ArrayList<>();
        int hd = layout.headDim();
        for (int i = 0; i < kept.size(); i++) {
            int[] heads = kept.get(i);
            if (heads.length == 0) {
                throw new ConfigException(stage.path() + ".prune.heads", "the plan removes every head of layer " + i,
                        "at least one head kept per layer");
            }
            counts.add(heads.length);
            int[] rows = new int[heads.length * hd];
            for (int h = 0; h < heads.length; h++) {
                for (int j = 0; j < hd; j++) {
                    rows[h * hd + j] = heads[h] * hd + j;
                }
            }
            AttentionLayout.Layer layer = layout.layers().get(i);
            for (String siteName : List.of(layer.q(), layer.k(), layer.v(), layer.o())) {
                LinearSite site = model.site(siteName);
                boolean out = !siteName.equals(layer.o());
                int[] keptRows = out ? rows : all(site.outFeatures());
                int[] keptCols = out ? all(site.inFeatures()) : rows;
                tensors.put(siteName + ".weight", take(site.weight(), keptRows, keptCols, m));
                String maskName = TensorNames.mask(siteName);
                if (tensors.containsKey(maskName)) {
                    tensors.put(maskName, take(tensors.get(maskName), keptRows, keptCols, m));
                }
                List<AttachedAdapter> adapters = site.adapters();
                for (int a = 0; a < adapters.size(); a++) {
                    String prefix = adapterPrefix(model, adapters.get(a), siteName);
                    if (!(adapters.get(a) instanceof PrunableAdapter prunable)) {
                        throw new ConfigException(stage.path() + ".prune.heads", "the adapter on " + siteName + " cannot be sliced",
                                "adapters that support pruning (dsee, lora)");
                    }
                    tensors.keySet().removeIf(n -> n.startsWith(prefix));
                    prunable.slice(keptRows, keptCols, m).forEach((n, t) -> tensors.put(prefix + n, t));
                }
            }
        }
        return counts;
    }

    /** The {@code adapters.<i>.<site>.} prefix under which an attached adapter's tensors are stored. */
    private static String adapterPrefix(Model model, AttachedAdapter adapter, String site) {
        for (var e : adapter.parameters().entrySet()) {
            for (var p : model.parameters().all().entrySet()) {
                if (p.getValue() == e.getValue()) {
                    String name = p.getKey();
                    return name.substring(0, name.length() - e.getKey().length());
                }
            }
        }
        throw new IllegalStateException("adapter on " + site + " has no registered parameter");
    }

    private static int[] all(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    private static NDArray take(NDArray a, int[] rows, int[] cols, NDManager m) {
        long[] r = new long[rows.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = rows[i];
        }
        long[] c = new long[cols.length];
        for (int i = 0; i < c.length; i++) {
            c[i] = cols[i];
        }
        NDArray src = Ops.own(m, a.stopGradient());
        NDArray byRows = Ops.own(m, src.get(Ops.own(m, m.create(r))));
        NDArray byCols = Ops.own(m, Ops.own(m, byRows.transpose()).get(Ops.own(m, m.create(c))));
        return Ops.own(m, Ops.own(m, byCols.transpose()).duplicate());
    }

    /**
     * "nonzeros: X of Y site weights (Z%) || FLOPs/token: dense D, nonzero F (P%)": X counts the
     * nonzero entries of every site's effective weight (what {@code export} writes), Y their
     * total; D is the model's analytic FLOP count and F = 2·X.
     */
    public static String accounting(Model model) {
        long nonzero = 0;
        long total = 0;
        try (NDManager m = model.parameters().manager().newSubManager()) {
            for (LinearSite site : model.sites().values()) {
                NDArray w = Ops.withoutAutograd(m, () -> site.effectiveWeight(m, site.outFeatures(), site.inFeatures()));
                total += w.getShape().size();
                nonzero += Ops.own(m, Ops.own(m, w.neq(0)).toType(ai.djl.ndarray.types.DataType.INT64, false)).sum().getLong();
            }
        }
        long dense = model.flops(SubModel.FULL);
        return String.format(Locale.ROOT, "nonzeros: %,d of %,d site weights (%.2f%%) || FLOPs/token: dense %,d, nonzero %,d (%.2f%%)",
                nonzero, total, 100.0 * nonzero / total, dense, 2 * nonzero, 100.0 * 2 * nonzero / dense);
    }
}
