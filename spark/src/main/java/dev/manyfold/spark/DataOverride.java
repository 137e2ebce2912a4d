package dev.manyfold.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import dev.manyfold.runtime.data.DataConfig;
import dev.manyfold.runtime.data.DataException;
import dev.manyfold.runtime.data.DataSources;
import dev.manyfold.runtime.data.InstructionData;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.model.ModelFactory;
import dev.manyfold.runtime.data.TrainingData;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Lattice evaluation on another data set than the run's recipe names: {@code --data PATH}, optionally
 * {@code --data-type TYPE} and {@code --data-set KEY=VALUE} (any key of the recipe's {@code data}
 * section). The recipe's section is the starting point (so the tokenizer and context stay the
 * model's); with another type, only {@code tokenizer} and {@code context} carry over between the
 * token types. Data the model cannot read (other task, input size, classes, vocabulary,
 * end-of-sequence token, context) is refused naming the option and both sides.
 *
 * @param path the data path ({@code --data}), or null for the run's own data
 * @param type the data type ({@code --data-type}), or null for the recipe's
 * @param settings further {@code KEY=VALUE} settings of the data section ({@code --data-set})
 */
record DataOverride(String path, String type, List<String> settings) implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Set<String> TOKEN_TYPES = Set.of(DataConfig.TEXT, InstructionData.TYPE);

    DataOverride {
        settings = List.copyOf(settings);
        if (path == null && (type != null || !settings.isEmpty())) {
            throw new IllegalArgumentException((type != null ? "--data-type" : "--data-set") + " needs --data PATH (the data set to"
                    + " evaluate on)");
        }
    }

    /** True when the run's own data is evaluated. */
    boolean none() {
        return path == null;
    }

    /** What tells loaded data sets apart in {@link ExecutorModels}. */
    String key() {
        return none() ? "recipe" : path + "|" + type + "|" + settings;
    }

    /** Where the data comes from, for the job's first line. */
    String describe() {
        return none() ? "the run's validation data" : "--data " + path + (type == null ? "" : " (" + type + ")");
    }

    /** The run's data, or the override checked against the run's model. */
    TrainingData open(Run run) {
        if (none()) {
            return run.data();
        }
        Settings section = Settings.of("data", section(run.recipe().section("data").asMap()));
        TrainingData data;
        try {
            data = DataSources.open(section, run.config().sampling());
        } catch (ConfigException | DataException | IllegalArgumentException | java.io.UncheckedIOException e) {
            throw new IllegalArgumentException(describe() + ": " + e.getMessage(), e);
        }
        check(run, data);
        return data;
    }

    /** The data section to open: the recipe's with the override applied. */
    Map<String, Object> section(Map<String, Object> recipe) {
        String recipeType = String.valueOf(recipe.get("type"));
        String newType = type == null ? recipeType : type;
        Map<String, Object> out = new LinkedHashMap<>();
        if (newType.equals(recipeType)) {
            out.putAll(recipe);
        } else {
            out.put("type", newType);
            if (TOKEN_TYPES.contains(newType) && TOKEN_TYPES.contains(recipeType)) {
                for (String key : List.of("tokenizer", "context")) {
                    if (recipe.containsKey(key)) {
                        out.put(key, recipe.get(key));
                    }
                }
            }
        }
        out.put("path", path);
        for (String kv : settings) {
            int eq = kv.indexOf('=');
            if (eq < 1) {
                throw new IllegalArgumentException("--data-set " + kv + ": not KEY=VALUE (a key of the recipe's data section, e.g."
                        + " limit=500)");
            }
            String value = kv.substring(eq + 1);
            try {
                out.put(kv.substring(0, eq), value.isEmpty() ? "" : YAML.readValue(value, Object.class));
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("--data-set " + kv + ": the value is not a YAML value");
            }
        }
        return out;
    }

    /** Refuses data the run's model cannot be evaluated on. */
    private void check(Run run, TrainingData data) {
        ModelFactory.DataShape want = run.data().shape();
        ModelFactory.DataShape got = data.shape();
        String model = run.model().family() + " model";
        if (data.isText() != run.data().isText()) {
            throw new IllegalArgumentException(describe() + " is " + (data.isText() ? "token data (a language-model task)"
                    : "classification data") + " but the run's " + model + (run.data().isText() ? " is a language model"
                            : " is a classifier") + "; give a data set of the run's kind (" + run.recipe().section("data").asMap()
                                    .get("type") + ")");
        }
        if (!data.isText()) {
            if (got.inputs() != want.inputs() || got.classes() != want.classes()) {
                throw new IllegalArgumentException(describe() + " has " + got.inputs() + " inputs and " + got.classes()
                        + " classes per example but the run's " + model + " takes " + want.inputs() + " inputs and has " + want.classes()
                        + " classes");
            }
            return;
        }
        if (got.vocab() != want.vocab() || got.eos() != want.eos()) {
            throw new IllegalArgumentException(describe() + ": its tokenizer has a vocabulary of " + got.vocab() + " ids (end of sequence "
                    + got.eos() + ") but the run's " + model + " was trained with " + want.vocab() + " (end of sequence " + want.eos()
                    + "); evaluate with the run's tokenizer (" + run.recipe().section("data").asMap().getOrDefault("tokenizer",
                            DataConfig.BYTE_TOKENIZER) + ")");
        }
        dev.manyfold.api.decoder.LanguageModel llama = run.model().languageModel().orElse(null);
        if (llama != null && got.context() > llama.contextLength()) {
            throw new IllegalArgumentException(describe() + ": windows of " + got.context() + " tokens exceed the run's " + model
                    + " context of " + llama.contextLength() + " positions (set --data-set context=N with N <= "
                    + llama.contextLength() + ")");
        }
    }
}
