package dev.manyfold.runtime.job;

import dev.manyfold.runtime.model.TensorNames;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Globs;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.adapter.AttachedAdapter;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.api.prune.PrunableAdapter;
import dev.manyfold.api.prune.RestorableAdapter;
import dev.manyfold.runtime.builtin.CorePlugin;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.CheckpointStore;
import dev.manyfold.runtime.data.DataSources;
import dev.manyfold.runtime.hf.HfImport;
import dev.manyfold.runtime.hf.HfWeights;
import dev.manyfold.runtime.host.ExtensionKind;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.model.LinearSite;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.ModelFactory;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.recipe.RecipeValidator;
import dev.manyfold.runtime.train.Progress;
import dev.manyfold.runtime.train.TrainConfig;
import dev.manyfold.runtime.train.Trainer;
import dev.manyfold.runtime.data.TrainingData;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A whole run from a recipe: validate everything (data, model, plugin sections, budgets)
 * before the first step, build the model, attach adapters and masks, train, evaluate and
 * checkpoint into a run directory.
 */
public final class TrainJob {
    /** Checkpoint format written by this runtime. */
    /** The work directory of commands that check or load a recipe without a run directory of their own. */
    public static Path scratchDir() {
        return Path.of(System.getProperty("java.io.tmpdir"), "manyfold-work");
    }

    public static final String FORMAT_VERSION = "1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private TrainJob() {}

    /** Validates a recipe completely and builds its data and model (no training). */
    public static Run prepare(Manyfold host, Recipe recipe, PrintWriter out) {
        return prepare(host, recipe, out, true, null, scratchDir());
    }

    /** As {@link #prepare(Manyfold, Recipe, PrintWriter)}, with plugins' reports going to {@code workDirectory}. */
    public static Run prepare(Manyfold host, Recipe recipe, PrintWriter out, Path workDirectory) {
        return prepare(host, recipe, out, true, null, workDirectory);
    }

    /**
     * The full form: {@code initialise} false skips {@code train.init}; {@code base}, when
     * given, supplies the base tensors (not adapters, masks or optimiser state) before
     * adapters are attached, so that adapters choosing their support from W0 (DSEE) see the
     * trained W0; plugins' reports go to {@code workDirectory}.
     */
    private static Run prepare(Manyfold host, Recipe recipe, PrintWriter out, boolean initialise, Checkpoint base,
            Path workDirectory) {
        requireNonNull(host, "host is null");
        // Every check validate makes, in the same order and with the same messages, before data is read; the
        // train section, the plugin sections and the context are built there once and reused below.
        Checked checked = check(host, recipe, workDirectory, initialise, out::println, false);
        TrainConfig config = checked.config();
        RecipeValidator.Components components = checked.components();
        Settings modelSection = recipe.section("model");
        Path hfDir = HfImport.imports(modelSection) ? HfImport.directory(modelSection) : null;
        Settings dataSection = hfDir == null ? recipe.section("data") : HfImport.dataSection(recipe.section("data"), hfDir);
        TrainingData data = DataSources.open(dataSection, config.sampling());
        NDManager manager = NDManager.newBaseManager();
        try {
            // Imported weights replace every base tensor: no random initialisation to overwrite.
            Model model = ModelFactory.build(hfDir == null ? modelSection : HfImport.resolve(modelSection), data.shape(), config.seed(), manager,
                    hfDir != null && initialise);
            if (hfDir != null) {
                model.checkData(data.shape(), Optional.of(hfDir));
                if (initialise) {
                    int n = HfWeights.open(hfDir).loadInto(model);
                    out.printf("imported %d tensors from %s%n", n, hfDir);
                }
            }
            // BN statistics are recalibrated per sub-model on the first training batches (micro-batch 0 of steps 1, 2, ...).
            model.useCalibrationData(i -> data.train(i + 1L, 0));
            if (base != null) {
                assignBase(model, base);
            }
            Checkpoint init = initialise && config.init() != null ? initialise(model, Path.of(config.init()), out, host.extensions()::exportFormat) : null;
            // Adapters attach after W0 is final: a support chosen from W0 (DSEE's Ω) must see
            // the pre-trained weights, not the random initialisation.
            attachAdapters(recipe, components.adapters(), model, config.seed(), base);
            if (init != null) {
                copyAdapterTensors(model, init);
            }
            freeze(model, config.trainable());
            if (!components.adapters().isEmpty()) {
                out.println(trainableSummary(model));
            }
            Objective objective = checked.objective();
            if (initialise && objective.needsTeacher()) {
                Teacher.attach(model); // the starting weights (after train.init), before the trainer sets masks
            }
            List<Integer> exits = trainedExits(model, components, objective, base);
            if (!exits.isEmpty()) {
                model.setExits(exits);
            }
            // The run's context is the one the sections were created in, now with the trained exits; the recipe's
            // decoder is created in it (once), so exit settings are checked against the trained exits.
            HostContext context = checked.context().withTrainedExits(model.languageModel().map(lm -> lm.exits()).orElse(List.of()));
            components = components.withDecoder(new RecipeValidator(host.extensions()).decoder(recipe, context));
            // The tokenizer defaulted from model.from is written into the recipe the run stores, so exports keep it.
            Recipe stored = dataSection.asMap().equals(recipe.section("data").asMap()) ? recipe
                    : recipe.with(Map.of("data", dataSection.asMap()), java.util.Set.of());
            return new Run(stored, config, context, data, model, components, objective, manager);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** What the checks before training found. */
    public record Checked(TrainConfig config, dev.manyfold.api.ModelShape shape, RecipeValidator.Components components,
            long parameters, Objective objective, HostContext context) {}

    /**
     * Every check {@code train} makes before its first step, without reading data or
     * building weights: the train and model sections, the data source (files exist, are
     * regular and within their size caps; the tokenizer), the model's shape (built without
     * weights), every plugin section against that shape, adapter and mask targets, the
     * {@code train.trainable} globs, {@code train.init} (header and shapes), the default
     * objective, and whether training fits in memory. {@code validate} runs exactly this.
     *
     * @throws ConfigException naming the recipe path of the first problem
     */
    public static Checked check(Manyfold host, Recipe recipe, Path workDirectory) {
        return check(host, recipe, workDirectory, true, line -> {}, true);
    }

    /**
     * What {@code manyfold validate} runs: {@link StagedJob#validate} for a recipe with
     * stages (empty result), {@link #check} otherwise.
     */
    public static Optional<Checked> validate(Manyfold host, Recipe recipe, Path workDirectory) {
        if (StagedJob.isStaged(recipe)) {
            StagedJob.validate(host, recipe, workDirectory);
            return Optional.empty();
        }
        return Optional.of(check(host, recipe, workDirectory));
    }

    private static Checked check(Manyfold host, Recipe recipe, Path workDirectory, boolean initialise,
            java.util.function.Consumer<String> log, boolean withDecoder) {
        RecipeValidator validator = new RecipeValidator(host.extensions());
        if (!recipe.asMap().containsKey("train") || !recipe.asMap().containsKey("model")) {
            // Report a plugin section's own problem before the missing section, as for any recipe without a model.
            long seed = recipe.section("train").has("seed") ? recipe.section("train").getLong("seed", 42) : 42;
            validator.validate(recipe, new HostContext(seed, Optional.empty(), workDirectory, line -> {}, recipe.asMap()));
        }
        if (!recipe.asMap().containsKey("train")) {
            throw new ConfigException("train", "required section is missing", "a train section such as { steps: 1000 }");
        }
        Settings trainSection = recipe.section("train");
        TrainConfig config = TrainConfig.from(trainSection); // the one parse of the train section
        trainSection.rejectUnknown();
        if (!recipe.asMap().containsKey("model")) {
            throw new ConfigException("model", "required section is missing", "a model section such as { family: mlp }");
        }
        Settings modelSection = recipe.section("model");
        Path hfDir = HfImport.imports(modelSection) ? HfImport.directory(modelSection) : null;
        Settings dataSection = hfDir == null ? recipe.section("data") : HfImport.dataSection(recipe.section("data"), hfDir);
        ModelFactory.DataShape dataShape = DataSources.check(dataSection, config.sampling());
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = ModelFactory.shape(hfDir == null ? modelSection : HfImport.resolve(modelSection), dataShape, manager);
            model.checkData(dataShape, Optional.ofNullable(hfDir));
            HostContext context = new HostContext(config.seed(), Optional.of(model.shape()), workDirectory, log, recipe.asMap());
            RecipeValidator.Components components = validator.validate(recipe, context, config, withDecoder); // each section once
            List<Settings> adapterSections = recipe.sections("adapters");
            for (int i = 0; i < components.adapters().size(); i++) {
                Globs.selectOrRefuse(components.adapters().get(i).targets(), model.sites().keySet(), "", adapterSections.get(i).pathOf("targets"));
            }
            List<Settings> maskSections = recipe.sections("masks");
            for (int i = 0; i < components.masks().size(); i++) {
                Globs.selectOrRefuse(components.masks().get(i).targets(), model.sites().keySet(), "", maskSections.get(i).pathOf("targets"));
            }
            // Adapter tensors exist only once attached: globs naming adapters.* are checked then; the others now.
            if (components.adapters().isEmpty() || config.trainable().stream().noneMatch(g -> g.startsWith("adapters") || g.startsWith("*"))) {
                freeze(model, config.trainable());
            }
            if (initialise && config.init() != null && !HfWeights.isModelDirectory(Path.of(config.init()))) {
                matchInit(model, Path.of(config.init()), host.extensions()::exportFormat);
            }
            Objective objective = components.objective().orElseGet(() -> host.extensions().create(host.extensions().objectives(),
                    ExtensionKind.OBJECTIVE, CorePlugin.STANDARD, Settings.empty("objective"), context, "objective.type"));
            dev.manyfold.runtime.model.Footprint.checkTraining(model.totalParameters(), ModelFactory.activations(model, config.batch()),
                    config.batch(), model.family());
            return new Checked(config, model.shape(), components, model.totalParameters(), objective, context);
        }
    }

    /** Checkpoint metadata key: the trained exit depths, a JSON list (since API 1.1). */
    public static final String TRAINED_EXITS = "trained-exits";

    /**
     * The exits the run trains: the {@code depth} dimension's budgets, the objective's declared
     * {@link Objective#trainedExits} and, when loading, those recorded in the checkpoint.
     *
     * @throws ConfigException at {@code objective} when the objective declares an exit outside the model
     */
    static List<Integer> trainedExits(Model model, RecipeValidator.Components components, Objective objective, Checkpoint from) {
        java.util.TreeSet<Integer> exits = new java.util.TreeSet<>();
        if (components.dimensions().containsKey(Model.DEPTH)) {
            exits.addAll(components.dimensions().get(Model.DEPTH).budgets(model.shape()));
        }
        int layers = model.dimensions().getOrDefault(Model.DEPTH, 0);
        List<Integer> declared = objective.trainedExits(model.shape());
        for (Integer e : declared == null ? List.<Integer>of() : declared) {
            if (e == null || e < 1 || e > layers) {
                throw new ConfigException("objective", "the objective declares trained exit " + e + ", outside the model's "
                        + layers + " layers", "exit depths in [1, " + layers + "]");
            }
            exits.add(e);
        }
        if (from != null && from.metadata().containsKey(TRAINED_EXITS)) {
            try {
                for (int e : JSON.readValue(from.metadata().get(TRAINED_EXITS), int[].class)) {
                    if (e >= 1 && e <= layers) {
                        exits.add(e);
                    }
                }
            } catch (JsonProcessingException e) {
                throw new ConfigException(from.file() + "#" + TRAINED_EXITS, "not a JSON list of exit depths", "[2, 4, 8]");
            }
        }
        return List.copyOf(exits);
    }

    /**
     * Attaches every adapter to its sites. With a {@code base} checkpoint that holds an
     * adapter's tensors and a {@link RestorableAdapter}, the adapter is rebuilt from them (its
     * saved support, possibly of a sliced site) instead of being chosen afresh from W0. The
     * {@link PrunableAdapter#buffers() buffers} of attached adapters are registered as frozen
     * tensors {@code adapters.<i>.<site>.<name>}, so checkpoints carry them.
     */
    private static void attachAdapters(Recipe recipe, List<Adapter> adapters, Model model, long seed, Checkpoint base) {
        List<Settings> sections = recipe.sections("adapters");
        for (int i = 0; i < adapters.size(); i++) {
            Adapter adapter = adapters.get(i);
            List<String> sites = Globs.selectOrRefuse(adapter.targets(), model.sites().keySet(), "", sections.get(i).pathOf("targets"));
            for (String siteName : sites) {
                LinearSite site = model.site(siteName);
                String prefix = TensorNames.adapterPrefix(i, siteName);
                AttachedAdapter attached;
                Map<String, dev.manyfold.runtime.checkpoint.Tensor> saved = new LinkedHashMap<>();
                if (base != null) {
                    base.tensors().forEach((n, t) -> {
                        if (n.startsWith(prefix) && n.indexOf('.', prefix.length()) < 0) {
                            saved.put(n.substring(prefix.length()), t);
                        }
                    });
                }
                // Restored only when the checkpoint holds the adapter's buffers (non-floating tensors such as
                // DSEE's Ω); checkpoints written before buffers existed attach afresh as they always did.
                boolean hasBuffers = saved.values().stream().anyMatch(t -> !t.dtype().djlType().isFloating());
                if (adapter instanceof RestorableAdapter restorable && hasBuffers) {
                    try (NDManager scratch = model.parameters().manager().newSubManager()) {
                        Map<String, ai.djl.ndarray.NDArray> arrays = new LinkedHashMap<>();
                        saved.forEach((n, t) -> arrays.put(n, t.toNDArray(scratch)));
                        attached = restorable.restore(siteName, site.weight(), arrays, model.parameters().manager());
                    }
                } else {
                    attached = adapter.attach(siteName, site.weight(), model.parameters().manager(), seed ^ siteName.hashCode() ^ i);
                }
                attached.parameters().forEach((n, a) -> model.parameters().add(prefix + n, a, true));
                if (attached instanceof PrunableAdapter prunable) {
                    prunable.buffers().forEach((n, a) -> model.parameters().add(prefix + n, a, false));
                }
                site.addAdapter(attached);
            }
        }
    }

    /**
     * Copies tensors from a checkpoint (or a run directory's latest) into the model by name.
     * Every tensor the two share must have the same shape; tensors only the model has keep
     * their initialisation, except per-exit heads, which start as copies of the shared head.
     */
    static Checkpoint initialise(Model model, Path from, PrintWriter out) {
        return initialise(model, from, out, name -> Optional.empty());
    }

    /** As {@link #initialise(Model, Path, PrintWriter)}; a file in a plugin's export format (packed 2:4) is read through {@code formats}. */
    static Checkpoint initialise(Model model, Path from, PrintWriter out, java.util.function.Function<String, Optional<dev.manyfold.api.export.ExportFormat>> formats) {
        if (HfWeights.isModelDirectory(from)) {
            int n = HfWeights.open(from).loadInto(model);
            out.printf("initialised %d of %d tensors from Hugging Face directory %s%n", n, model.parameters().all().size(), from);
            return null;
        }
        Checkpoint checkpoint = loadInit(from, formats);
        Map<String, dev.manyfold.runtime.checkpoint.Tensor> matched = matchInit(model, checkpoint);
        try {
            dev.manyfold.runtime.checkpoint.WeightChecks.check(checkpoint.file(), matched, n -> isFloating(model.parameters().get(n)));
        } catch (dev.manyfold.runtime.checkpoint.CheckpointException e) {
            throw new ConfigException("train.init", e.getMessage(), "a checkpoint with finite float weights");
        }
        try (NDManager m = model.parameters().manager().newSubManager()) {
            matched.forEach((name, tensor) -> model.parameters().assign(name, tensor.toNDArray(m)));
        }
        out.printf("initialised %d of %d tensors from %s%n", matched.size(), model.parameters().all().size(), checkpoint.file());
        return checkpoint;
    }

    private static Checkpoint loadInit(Path from, java.util.function.Function<String, Optional<dev.manyfold.api.export.ExportFormat>> formats) {
        Path file = Files.isDirectory(from) ? CheckpointStore.keepingAll().latest(from).orElseThrow(() -> new ConfigException(
                "train.init", "no checkpoint in run directory " + from, "a run directory or a .safetensors checkpoint")) : from;
        if (!Files.exists(file)) {
            throw new ConfigException("train.init", "checkpoint " + file + " does not exist", "a run directory or a .safetensors checkpoint");
        }
        if (!Files.isRegularFile(file)) {
            throw new ConfigException("train.init", file + " is not a regular file", "a run directory or a .safetensors checkpoint");
        }
        try {
            return Checkpoint.load(file, formats);
        } catch (dev.manyfold.runtime.checkpoint.CheckpointException e) {
            throw new ConfigException("train.init", e.getMessage(), "a run directory or a .safetensors checkpoint");
        }
    }

    /** {@code train.init}'s checkpoint matched against the model's tensors by name (shapes only; nothing is read). */
    private static void matchInit(Model model, Path from, java.util.function.Function<String, Optional<dev.manyfold.api.export.ExportFormat>> formats) {
        Map<String, dev.manyfold.runtime.checkpoint.Tensor> matched = matchInit(model, loadInit(from, formats));
        for (var e : matched.entrySet()) {
            if (isFloating(model.parameters().get(e.getKey())) && !dev.manyfold.runtime.checkpoint.WeightChecks.FLOATS.contains(e.getValue().dtype())) {
                throw new ConfigException("train.init", "tensor " + e.getKey() + " is " + e.getValue().dtype()
                        + " where float weights are expected", "a checkpoint with F32, F16, BF16 or F64 weights");
            }
        }
    }

    /**
     * The checkpoint tensor for each model tensor it provides; every shared tensor must have the
     * same shape, and at least one must be shared.
     */
    private static Map<String, dev.manyfold.runtime.checkpoint.Tensor> matchInit(Model model, Checkpoint checkpoint) {
        Path file = checkpoint.file();
        Map<String, dev.manyfold.runtime.checkpoint.Tensor> matched = new LinkedHashMap<>();
        for (var e : model.parameters().all().entrySet()) {
            String name = e.getKey();
            var tensor = checkpoint.tensors().get(name);
            for (String source : model.initialisedFrom(name)) {
                if (tensor == null) {
                    tensor = checkpoint.tensors().get(source);
                }
            }
            if (tensor == null) {
                continue;
            }
            long[] want = e.getValue().getShape().getShape();
            if (!java.util.Arrays.equals(want, tensor.shape())) {
                throw new ConfigException("train.init", "tensor " + name + " has shape " + java.util.Arrays.toString(tensor.shape())
                        + " in " + file + " but the model needs " + java.util.Arrays.toString(want), "a checkpoint of the same architecture");
            }
            matched.put(name, tensor);
        }
        if (matched.isEmpty()) {
            throw new ConfigException("train.init", "checkpoint " + file + " shares no tensor with the model", "a checkpoint of this model family");
        }
        return matched;
    }

    /** Copies the checkpoint's {@code adapters.*} tensors that the model has (same shapes). */
    private static void copyAdapterTensors(Model model, Checkpoint checkpoint) {
        try (NDManager m = model.parameters().manager().newSubManager()) {
            for (var e : model.parameters().all().entrySet()) {
                var tensor = checkpoint.tensors().get(e.getKey());
                if (!TensorNames.isAdapter(e.getKey()) || tensor == null || !isFloating(e.getValue())) {
                    continue; // buffers (an adapter's support) are chosen by the adapter, not copied
                }
                long[] want = e.getValue().getShape().getShape();
                if (!java.util.Arrays.equals(want, tensor.shape())) {
                    throw new ConfigException("train.init", "tensor " + e.getKey() + " has shape " + java.util.Arrays.toString(tensor.shape())
                            + " in " + checkpoint.file() + " but the model needs " + java.util.Arrays.toString(want),
                            "a checkpoint with the same adapter settings");
                }
                model.parameters().assign(e.getKey(), tensor.toNDArray(m));
            }
        }
    }

    /** Assigns a checkpoint's base tensors (same name and shape; not adapters, masks or optimiser state). */
    private static void assignBase(Model model, Checkpoint checkpoint) {
        try (NDManager m = model.parameters().manager().newSubManager()) {
            checkpoint.tensors().forEach((n, t) -> {
                if (!TensorNames.isBase(n) || !model.parameters().contains(n)
                        || !java.util.Arrays.equals(model.parameters().get(n).getShape().getShape(), t.shape())) {
                    return;
                }
                model.parameters().assign(n, t.toNDArray(m));
            });
        }
    }

    /**
     * "trainable params: X || all params: Y || trainable%: Z": X counts the scalars of the
     * trainable tensors (adapter parameters and whatever {@code train.trainable} keeps), Y all
     * tensors of the model including adapters (masks excluded), Z = 100·X/Y.
     */
    static String trainableSummary(Model model) {
        long trainable = 0;
        long all = 0;
        for (var e : model.parameters().all().entrySet()) {
            if (TensorNames.isMask(e.getKey()) || !isFloating(e.getValue())) {
                continue; // masks and index buffers are not parameters
            }
            long size = e.getValue().getShape().size();
            all += size;
            if (model.parameters().trainable().contains(e.getKey())) {
                trainable += size;
            }
        }
        return String.format(java.util.Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f", trainable, all,
                all == 0 ? 0.0 : 100.0 * trainable / all);
    }

    /** Which checkpoint tensors a model reads as float values: its float parameters and optimiser moments. */
    static java.util.function.Predicate<String> floatWeights(Model model) {
        return n -> TensorNames.isOptimizerState(n) || !TensorNames.isMask(n) && model.parameters().contains(n)
                && isFloating(model.parameters().get(n));
    }

    /** Whether a tensor holds floating-point values (parameters; not index buffers). */
    static boolean isFloating(ai.djl.ndarray.NDArray array) {
        return array.getDataType().isFloating();
    }

    /**
     * Sets a fixed mask on a site (no straight-through) as tensor {@code mask.<site>}, and
     * restricts the site's {@link PrunableAdapter}s to it, so that the whole effective weight is
     * zero where the mask is.
     */
    public static void applyFixedMask(Model model, String site, ai.djl.ndarray.NDArray mask) {
        String name = TensorNames.mask(site);
        if (model.parameters().contains(name)) {
            model.parameters().assign(name, mask);
        } else {
            model.parameters().add(name, mask, false);
        }
        LinearSite s = model.site(site);
        ai.djl.ndarray.NDArray stored = model.parameters().get(name);
        s.setMask(stored, false);
        for (AttachedAdapter a : s.adapters()) {
            if (a instanceof PrunableAdapter prunable) {
                prunable.maskDelta(stored);
            }
        }
    }

    /** Freezes every tensor that no {@code train.trainable} glob matches. */
    static void freeze(Model model, List<String> trainable) {
        if (trainable.equals(List.of("**"))) {
            return;
        }
        List<String> names = List.copyOf(model.parameters().trainable());
        List<String> keep = Globs.select(trainable, names);
        if (keep.isEmpty()) {
            throw new ConfigException("train.trainable", "the globs " + trainable + " match no trainable tensor",
                    "globs over tensor names such as " + names.stream().limit(4).toList());
        }
        for (String name : names) {
            if (!keep.contains(name)) {
                model.parameters().setTrainable(name, false);
            }
        }
    }

    /**
     * Trains a prepared run into {@code runDir}; resumes from its latest checkpoint when
     * {@code resume} is set.
     */
    public static Trainer.Summary train(Run p, Path runDir, boolean resume, PrintWriter out, boolean terminal) {
        Checkpoint from = null;
        if (resume) {
            Path latest = CheckpointStore.keepingAll().latest(runDir).orElseThrow(() -> new ConfigException(runDir.toString(),
                    "no checkpoint to resume from", "a run directory with a checkpoint"));
            from = Checkpoint.load(latest);
            dev.manyfold.runtime.checkpoint.WeightChecks.check(from, floatWeights(p.model()));
        }
        try {
            Files.createDirectories(runDir);
            Files.writeString(runDir.resolve("recipe.yaml"), p.recipe().toYaml());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to run directory " + runDir, e);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format-version", FORMAT_VERSION);
        metadata.put("recipe", p.recipe().toYaml());
        metadata.put("model", toJson(p.model().config()));
        metadata.put("family", p.model().family());
        if (p.model() instanceof dev.manyfold.api.decoder.LanguageModel lm) {
            metadata.put(TRAINED_EXITS, toJson(lm.exits()));
        }
        out.printf("training %s: %s, %,d parameters, data %s%n", p.recipe().name(), p.model().family(), p.model().totalParameters(),
                p.data().describe());
        return trainer(p, runDir, out, terminal, metadata).run(from);
    }

    /** A trainer for a prepared run (used by {@code bench train}, which never persists). */
    public static Trainer trainer(Run p, Path runDir, PrintWriter out, boolean terminal) {
        return trainer(p, runDir, out, terminal, Map.of());
    }

    private static Trainer trainer(Run p, Path runDir, PrintWriter out, boolean terminal, Map<String, String> metadata) {
        Progress progress = new Progress(out, terminal, p.config().steps(), p.config().logEvery(),
                p.data().isText() ? "tokens" : "examples");
        return new Trainer(p.model(), p.data(), p.objective(), p.config(), p.components().masks(), List.of(SubModel.FULL), runDir,
                progress, metadata);
    }

    static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Loads a trained model: {@code path} is a run directory (its latest checkpoint), a
     * checkpoint file, or a Hugging Face model directory (see {@link HfImport#bareRecipe}). The recipe stored in the checkpoint rebuilds data and model; tensors
     * are checked against the model's shapes before any is assigned.
     */
    public static Run load(Manyfold host, Path path, PrintWriter out) {
        if (HfWeights.isModelDirectory(path)) {
            return prepare(host, HfImport.bareRecipe(path), out, true, null, scratchDir());
        }
        Path file = java.nio.file.Files.isDirectory(path) ? CheckpointStore.keepingAll().latest(path).orElseThrow(() -> new ConfigException(
                path.toString(), "no checkpoint in this run directory", "a run directory containing checkpoint-N.safetensors")) : path;
        Checkpoint checkpoint = Checkpoint.load(file, host.extensions()::exportFormat);
        String yaml = checkpoint.metadata().get("recipe");
        if (yaml == null) {
            throw new ConfigException(file.toString(), "checkpoint has no recipe in its metadata", "a checkpoint written by manyfold train");
        }
        Run p = prepare(host, Recipe.parse(yaml, file + "#recipe"), out, false, checkpoint, file.toAbsolutePath().getParent());
        try {
            checkpoint.validateAgainst(expectedShapes(p.model(), checkpoint));
            dev.manyfold.runtime.checkpoint.WeightChecks.check(checkpoint, floatWeights(p.model()));
            try (NDManager m = p.model().parameters().manager().newSubManager()) {
                checkpoint.tensors().forEach((n, t) -> {
                    if (TensorNames.isMask(n)) {
                        applyFixedMask(p.model(), TensorNames.maskedSite(n), t.toNDArray(m).duplicate());
                    } else if (!TensorNames.isOptimizerState(n) && isFloating(p.model().parameters().get(n))) {
                        p.model().parameters().assign(n, t.toNDArray(m));
                    }
                });
            }
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /**
     * The shapes a checkpoint of this model may hold: every parameter, plus optimiser moments
     * ({@code optim.m.X}, {@code optim.v.X}: the shape of X) and masks ({@code mask.S}: the
     * shape of site S) where the checkpoint has them.
     */
    static Map<String, long[]> expectedShapes(Model model, Checkpoint checkpoint) {
        Map<String, long[]> expected = new LinkedHashMap<>();
        model.parameters().all().forEach((n, a) -> {
            if (!TensorNames.isMask(n)) {
                expected.put(n, a.getShape().getShape());
            }
        });
        for (String name : checkpoint.tensors().keySet()) {
            if (TensorNames.isMoment(name)) {
                String param = TensorNames.momentParameter(name);
                if (expected.containsKey(param)) {
                    expected.put(name, expected.get(param));
                }
            } else if (TensorNames.isMask(name) && model.sites().containsKey(TensorNames.maskedSite(name))) {
                var site = model.site(TensorNames.maskedSite(name));
                expected.put(name, new long[] {site.outFeatures(), site.inFeatures()});
            }
        }
        return expected;
    }

    /** Every combination of the recipe's dimension budgets (the full lattice), largest first. */
    public static List<SubModel> lattice(Run p) {
        List<SubModel> out = new java.util.ArrayList<>();
        out.add(SubModel.FULL);
        Map<String, List<Integer>> dims = new LinkedHashMap<>();
        p.components().dimensions().forEach((n, d) -> dims.put(n, d.budgets(p.model().shape())));
        if (dims.isEmpty()) {
            return out;
        }
        List<Map<String, Integer>> combos = new java.util.ArrayList<>();
        combos.add(new LinkedHashMap<>());
        for (Map.Entry<String, List<Integer>> e : dims.entrySet()) {
            List<Map<String, Integer>> next = new java.util.ArrayList<>();
            for (Map<String, Integer> c : combos) {
                for (int b : e.getValue()) {
                    Map<String, Integer> n = new LinkedHashMap<>(c);
                    n.put(e.getKey(), b);
                    next.add(n);
                }
            }
            combos = next;
        }
        Map<String, Integer> max = p.model().dimensions();
        for (Map<String, Integer> c : combos) {
            Map<String, Integer> restricted = new LinkedHashMap<>();
            c.forEach((k, v) -> {
                if (!v.equals(max.get(k))) {
                    restricted.put(k, v);
                }
            });
            SubModel sub = SubModel.of(restricted);
            if (!out.contains(sub)) {
                out.add(sub);
            }
        }
        out.sort(java.util.Comparator.comparingLong((SubModel s) -> p.model().flops(s)).reversed());
        return out;
    }
}
