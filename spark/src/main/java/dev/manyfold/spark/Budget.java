package dev.manyfold.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One budget of the batch generation job: which decoder, with which settings, at which exit.
 * Written as {@code full} (greedy on the whole model), {@code exit-N} (greedy at trained exit
 * N) or {@code DECODER[:KEY=VALUE...]} (any decoder the plugins contribute, its settings read
 * as YAML values, e.g. {@code self-speculative:draft=2}).
 *
 * @param spec the text as given, which names the budget in the output
 * @param decoder the decoder name
 * @param settings the decoder's settings
 */
public record Budget(String spec, String decoder, Map<String, Object> settings) implements Serializable {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** Parses a budget; bad syntax is refused naming {@code where}. */
    public static Budget parse(String spec, String where) {
        String s = spec.trim();
        if (s.equals("full")) {
            return new Budget(s, "greedy", Map.of());
        }
        if (s.startsWith("exit-")) {
            String n = s.substring("exit-".length());
            if (!n.matches("[0-9]{1,6}") || Integer.parseInt(n) < 1) {
                throw new IllegalArgumentException(where + ": " + spec + " is not a budget (accepted: full, exit-N with N >= 1, or "
                        + "DECODER[:KEY=VALUE...])");
            }
            return new Budget(s, "greedy", Map.of("exit", Integer.parseInt(n)));
        }
        String[] parts = s.split(":");
        if (parts[0].isEmpty()) {
            throw new IllegalArgumentException(where + ": empty budget (accepted: full, exit-N, or DECODER[:KEY=VALUE...])");
        }
        Map<String, Object> settings = new LinkedHashMap<>();
        for (int i = 1; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            if (eq < 1) {
                throw new IllegalArgumentException(where + ": " + spec + ": setting `" + parts[i] + "` is not KEY=VALUE");
            }
            String value = parts[i].substring(eq + 1);
            try {
                settings.put(parts[i].substring(0, eq), value.isEmpty() ? "" : YAML.readValue(value, Object.class));
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException(where + ": " + spec + ": setting `" + parts[i] + "` is not a YAML value");
            }
        }
        return new Budget(s, parts[0], settings);
    }

    /** Parses a list of budgets, refusing duplicates. */
    public static List<Budget> parseAll(List<String> specs, String where) {
        List<Budget> out = specs.stream().map(b -> parse(b, where)).toList();
        if (out.stream().map(Budget::spec).distinct().count() != out.size()) {
            throw new IllegalArgumentException(where + " names a budget twice: " + specs);
        }
        return out;
    }

    /** The exit this budget decodes at, or {@code layers} for the full model. */
    public int exit(int layers) {
        Object e = settings.get("exit");
        return e instanceof Number n ? n.intValue() : layers;
    }
}
