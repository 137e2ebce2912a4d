package dev.manyfold.runtime.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.runtime.host.ExtensionKind;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Decoder settings from the command line: {@code --set key=value} entries become a recipe
 * section (values are read as YAML, so {@code k=4}, {@code adaptive=true} and
 * {@code thresholds={2: 0.9, 4: 0.8}} have their types; a dotted key {@code thresholds.2=0.9}
 * nests), and the decoder is created exactly as from a recipe's {@code decode} section, so
 * errors name paths such as {@code decode.draft}.
 */
final class DecoderSpecs {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private DecoderSpecs() {}

    /** A decoder type with its settings (without {@code type}) and the recipe path of its section. */
    record Spec(String label, String type, Map<String, Object> settings, String path) {
        String describe() {
            return settings.isEmpty() ? type : type + " " + settings;
        }
    }

    /**
     * Parses {@code key=value} entries into a section map, on top of {@code base}.
     *
     * @param option how the entries were given, for errors: {@code "--set "} or {@code "--set LABEL."}
     */
    static Map<String, Object> parse(List<String> entries, Map<String, Object> base, String option) {
        Map<String, Object> out = deepCopy(base);
        for (String entry : entries) {
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException(option + entry + ": expected KEY=VALUE, e.g. " + option + "draft=2");
            }
            String key = entry.substring(0, eq).trim();
            Object value = yaml(entry.substring(eq + 1), option + entry);
            Map<String, Object> target = out;
            String[] parts = key.split("\\.");
            for (int i = 0; i < parts.length - 1; i++) {
                Object child = target.get(parts[i]);
                if (!(child instanceof Map)) {
                    child = new LinkedHashMap<String, Object>();
                    target.put(parts[i], child);
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> next = (Map<String, Object>) child;
                target = next;
            }
            target.put(parts[parts.length - 1], value);
        }
        return out;
    }

    private static Object yaml(String text, String where) {
        if (text.isBlank()) {
            return "";
        }
        try {
            return YAML.readValue(text, Object.class);
        } catch (Exception e) {
            throw new IllegalArgumentException(where + ": the value is not valid YAML (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> deepCopy(Map<String, Object> map) {
        Map<String, Object> out = new LinkedHashMap<>();
        map.forEach((k, v) -> out.put(k, v instanceof Map ? deepCopy((Map<String, Object>) v) : v));
        return out;
    }

    /**
     * Creates the decoder through the loaded plugins, as the recipe validator would, in the
     * run's context (the model's shape and trained exits, so exit settings are checked here).
     */
    static Decoder create(Manyfold host, Run p, Spec spec, PrintWriter out) {
        return create(host, spec, p.context().withLog(out::println));
    }

    /** Creates the decoder in {@code context} (e.g. without a run, for an ONNX export). */
    static Decoder create(Manyfold host, Spec spec, HostContext context) {
        Settings settings = Settings.of(spec.path(), spec.settings());
        return host.extensions().create(host.extensions().decoders(), ExtensionKind.DECODER, spec.type(), settings, context,
                spec.path().isEmpty() ? "--decoder" : spec.path() + ".type");
    }

    /**
     * The decoder used when none is named: the one loaded factory that declares itself the
     * default ({@link dev.manyfold.api.decoder.DecoderFactory#isDefault()}).
     *
     * @param option what the user could have given instead, for the error
     */
    static String defaultDecoder(Manyfold host, String option) {
        return host.extensions().defaultDecoder(option);
    }

    /** The recipe's {@code decode} section as a spec, if the run's recipe has one. */
    @SuppressWarnings("unchecked")
    static Optional<Spec> fromRecipe(Run p) {
        Object section = p.recipe().asMap().get("decode");
        if (!(section instanceof Map)) {
            return Optional.empty();
        }
        Map<String, Object> values = deepCopy((Map<String, Object>) section);
        values.remove("engine"); // the host's (see EngineChoice), not the decoder's
        values.remove(dev.manyfold.runtime.onnx.Engines.THREADS_KEY);
        Object type = values.remove("type");
        if (type == null) {
            throw new ConfigException("decode.type", "required key is missing", "a decoder name (see manyfold plugins)");
        }
        return Optional.of(new Spec(type.toString(), type.toString(), values, "decode"));
    }
}
