package dev.manyfold.runtime.hf;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import dev.manyfold.runtime.checkpoint.CheckpointException;
import dev.manyfold.runtime.data.TextCorpus;
import dev.manyfold.runtime.recipe.Recipe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Recipes that start from a Hugging Face directory: {@code model: { from: DIR }} (optionally
 * {@code context}, a cap on {@code max_position_embeddings}, and {@code exit-heads}) becomes
 * the equivalent {@code family: llama} section, a text or instructions data section without a tokenizer gets
 * {@code DIR/tokenizer.json}, and a bare directory given to {@code generate}, {@code eval},
 * {@code bench decode} or {@code export} becomes a recipe of its own.
 */
public final class HfImport {
    /** The model-section key naming a Hugging Face directory. */
    public static final String FROM = "from";
    /** The default cap on the context taken from {@code max_position_embeddings}. */
    public static final int DEFAULT_CONTEXT_CAP = 2048;
    /** The context of the validation windows of a bare directory's recipe. */
    static final int BARE_DATA_CONTEXT = 64;
    /** Documents of the default corpus a bare directory's recipe reads (validation for eval, prompts for bench decode). */
    static final int BARE_DATA_LIMIT = 400;

    private HfImport() {}

    /** Whether a model section imports a Hugging Face directory. */
    public static boolean imports(Settings model) {
        return model.has(FROM);
    }

    /** The directory a model section imports. */
    public static Path directory(Settings model) {
        return Path.of(model.getString(FROM));
    }

    /**
     * The {@code family: llama} section equivalent to a {@code from} section, read from the
     * directory's {@code config.json}. Accepted keys: {@code from}, {@code context} (cap,
     * default {@value #DEFAULT_CONTEXT_CAP}), {@code exit-heads}; others are refused.
     *
     * @throws ConfigException naming {@code model.from} when the directory is missing
     * @throws CheckpointException naming the file and key when config.json is not usable
     */
    public static Settings resolve(Settings model) {
        Path dir = directory(model);
        if (!Files.isDirectory(dir)) {
            throw new ConfigException(model.pathOf(FROM), "directory " + dir + " does not exist",
                    "a local Hugging Face model directory (config.json, model.safetensors, tokenizer.json)");
        }
        int cap = model.getInt("context", DEFAULT_CONTEXT_CAP, 2, 1 << 16);
        Map<String, Object> extra = new LinkedHashMap<>();
        List<Integer> exitHeads = model.getIntList("exit-heads", List.of());
        if (!exitHeads.isEmpty()) {
            extra.put("exit-heads", exitHeads);
        }
        model.rejectUnknown();
        HfConfig config = HfConfig.read(dir);
        return Settings.of(model.path(), config.modelSection(cap, extra));
    }

    /**
     * The data section of a recipe whose model imports {@code dir}: a text section that
     * names no tokenizer reads {@code dir/tokenizer.json}.
     */
    public static Settings dataSection(Settings data, Path dir) {
        Map<String, Object> values = data.asMap();
        if (!("text".equals(values.get("type")) || "instructions".equals(values.get("type"))) || values.containsKey("tokenizer")) {
            return data;
        }
        Map<String, Object> with = new LinkedHashMap<>(values);
        with.put("tokenizer", dir.resolve("tokenizer.json").toString());
        return Settings.of(data.path(), with);
    }

    /**
     * The recipe of a bare Hugging Face directory: its model, its tokenizer, and a few hundred
     * documents of the default text corpus ({@link TextCorpus#DEFAULT_PATH}) as
     * validation text for {@code eval} and prompts for {@code bench decode}.
     */
    public static Recipe bareRecipe(Path dir) {
        HfConfig config = HfConfig.read(dir); // a bad directory fails here, before any data is read
        HfWeights.open(dir);
        if (!Files.isRegularFile(dir.resolve("tokenizer.json"))) {
            throw new CheckpointException(dir.resolve("tokenizer.json") + ": no such file; generate, eval and bench decode need the"
                    + " model's tokenizer.json");
        }
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("name", dir.toAbsolutePath().normalize().getFileName().toString());
        root.put("model", Map.of(FROM, dir.toAbsolutePath().normalize().toString()));
        root.put("data", Map.of("type", "text", "context", Math.min(BARE_DATA_CONTEXT, Math.min(config.maxPositions(), DEFAULT_CONTEXT_CAP)),
                "limit", BARE_DATA_LIMIT));
        root.put("train", Map.of("steps", 1));
        try {
            return Recipe.parse(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(root), dir.resolve(HfConfig.FILE).toString());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
