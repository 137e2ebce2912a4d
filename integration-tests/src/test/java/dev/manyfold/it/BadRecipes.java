package dev.manyfold.it;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Generates bad recipes from small valid ones: every known key with wrong types, out-of-range
 * and non-finite values, unknown keys at every level, missing required keys and sections,
 * family/dimension mismatches, data sources that cannot be read, sizes that cannot fit and
 * text-level faults (duplicate keys, second documents, aliases). Each case names the recipe
 * path its error must name.
 */
final class BadRecipes {
    /** One bad recipe: what was changed, the YAML, and the key path the error must name. */
    record Case(String what, String yaml, String path) {
        /** The same recipe expecting another key path in the error. */
        Case withPath(String other) {
            return new Case(what, yaml, other);
        }
    }

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    static Map<String, Object> mlp() {
        return tree("""
                name: gen-mlp
                model: { family: mlp, hidden: 16, blocks: 2 }
                data: { type: fashion-mnist, limit: 200 }
                train: { steps: 2, batch: 8, lr: 0.001, seed: 1 }
                """);
    }

    static Map<String, Object> sortedMlp() {
        return tree("""
                name: gen-sorted
                model: { family: mlp, hidden: 16, blocks: 2 }
                data: { type: fashion-mnist, limit: 200 }
                dimensions:
                  width: { budgets: [8, 16] }
                  depth: { budgets: [1, 2] }
                objective: { type: stochastic }
                train: { steps: 2, batch: 8 }
                """);
    }

    static Map<String, Object> llama() {
        return tree("""
                name: gen-llama
                model: { family: llama, dim: 32, layers: 2, heads: 2, ffn: 64, context: 16 }
                data: { type: text, limit: 50, context: 16 }
                train: { steps: 2, batch: 2 }
                """);
    }

    static Map<String, Object> llamaPlugins() {
        return tree("""
                name: gen-llama-plugins
                model: { family: llama, dim: 32, layers: 2, heads: 2, ffn: 64, context: 16 }
                data: { type: text, limit: 50, context: 16 }
                adapters: [ { type: lora, rank: 2, targets: [q_proj, v_proj] } ]
                masks: [ { type: nm, every: 10 } ]
                train: { steps: 2, batch: 2, trainable: ["adapters.**"] }
                """);
    }

    /** The valid recipes the cases start from. */
    static List<Map<String, Object>> bases() {
        return List.of(mlp(), sortedMlp(), llama(), llamaPlugins());
    }

    static List<Case> all(Path scratch) {
        List<Case> cases = new ArrayList<>();
        Object[] notANumber = {"abc", List.of(1), Map.of("a", 1), true};
        // train: every key, wrong types and out-of-range values
        Map<String, Object[]> trainBad = new LinkedHashMap<>();
        trainBad.put("steps", new Object[] {0, -1, 1.5, 3_000_000_000L});
        trainBad.put("batch", new Object[] {0, -4, 1 << 17, 2.5});
        trainBad.put("accumulate", new Object[] {0, 2000});
        trainBad.put("lr", new Object[] {0, -1e-3, 10, "Infinity", "NaN"});
        trainBad.put("optimizer", new Object[] {"adam", 3, List.of("sgd")});
        trainBad.put("weight-decay", new Object[] {-0.1, "Infinity", "-Infinity"});
        trainBad.put("beta1", new Object[] {1, -0.5, "NaN"});
        trainBad.put("beta2", new Object[] {1.5, "Infinity"});
        trainBad.put("eps", new Object[] {0, -1e-8, "Infinity", "NaN"});
        trainBad.put("schedule", new Object[] {"linear", 1});
        trainBad.put("warmup", new Object[] {-1, 3});
        trainBad.put("clip", new Object[] {-1, "NaN"});
        trainBad.put("seed", new Object[] {"x", 1.5, "99999999999999999999"});
        trainBad.put("eval-every", new Object[] {-1});
        trainBad.put("checkpoint-every", new Object[] {-2});
        trainBad.put("log-every", new Object[] {0});
        trainBad.put("init", new Object[] {scratch.resolve("no-such-run").toString(), scratch.resolve("not-a-checkpoint.txt").toString(),
                "/dev/zero"});
        trainBad.put("trainable", new Object[] {List.of(), List.of("no_such_tensor.*")});
        for (Map<String, Object> base : List.of(mlp(), llama())) {
            String family = family(base);
            trainBad.forEach((key, values) -> {
                for (Object v : values) {
                    cases.add(set(base, "train." + key + " = " + v + " (" + family + ")", "train." + key, v));
                }
                if (!key.equals("init") && !key.equals("trainable") && !key.equals("optimizer") && !key.equals("schedule")) {
                    for (Object v : notANumber) {
                        cases.add(set(base, "train." + key + " = " + v + " (" + family + ")", "train." + key, v));
                    }
                }
            });
            cases.add(set(base, "train.stepz (" + family + ")", "train.stepz", 3));
            cases.add(remove(base, "train.steps missing (" + family + ")", "train.steps"));
            cases.add(remove(base, "train missing (" + family + ")", "train"));
            cases.add(remove(base, "model missing (" + family + ")", "model"));
            cases.add(remove(base, "model.family missing (" + family + ")", "model.family"));
            cases.add(set(base, "model.family transformer (" + family + ")", "model.family", "transformer"));
            cases.add(set(base, "model.unknown (" + family + ")", "model.hiden", 3));
            cases.add(set(base, "data.type imagenet (" + family + ")", "data.type", "imagenet"));
            cases.add(remove(base, "data.type missing (" + family + ")", "data.type"));
            cases.add(set(base, "data.unknown (" + family + ")", "data.pathh", "x"));
            cases.add(set(base, "data.path missing dir (" + family + ")", "data.path", scratch.resolve("nowhere").toString()));
            cases.add(set(base, "data.path /dev/zero (" + family + ")", "data.path", "/dev/zero"));
            cases.add(set(base, "data.path fifo (" + family + ")", "data.path", scratch.resolve("fifo").toString()));
            cases.add(set(base, "data.path empty (" + family + ")", "data.path", ""));
            cases.add(set(base, "data.limit 0 (" + family + ")", "data.limit", 0));
            cases.add(set(base, "data.limit string (" + family + ")", "data.limit", "many"));
            cases.add(set(base, "data.validation 1.5 (" + family + ")", "data.validation", 1.5));
            cases.add(set(base, "data.validation NaN (" + family + ")", "data.validation", "NaN"));
            cases.add(set(base, "eval.unknown (" + family + ")", "eval.every", 3));
            cases.add(set(base, "unknown section (" + family + ")", "modle", Map.of("family", "mlp")));
            cases.add(set(base, "objective missing type (" + family + ")", "objective", Map.of("alpha", 1)));
            cases.add(set(base, "objective unknown type (" + family + ")", "objective.type", "bogus"));
            cases.add(set(base, "objective.standard unknown key (" + family + ")", "objective", Map.of("type", "standard", "x", 1)));
            cases.add(set(base, "objective.last-token without classes (" + family + ")", "objective", Map.of("type", "last-token")));
            cases.add(set(base, "objective.last-token one class (" + family + ")", "objective", Map.of("type", "last-token", "classes",
                    List.of(65))));
            cases.add(set(base, "adapters not a list (" + family + ")", "adapters", Map.of("type", "lora")));
            cases.add(set(base, "adapters[0] unknown type (" + family + ")", "adapters", List.of(Map.of("type", "bogus"))));
            cases.add(set(base, "masks[0] missing type (" + family + ")", "masks", List.of(Map.of("every", 3))));
            cases.add(set(base, "decode unknown type (" + family + ")", "decode", Map.of("type", "bogus")));
            cases.add(set(base, "name with ../ (" + family + ")", "name", "../../x"));
            cases.add(set(base, "name with a separator (" + family + ")", "name", "a/b"));
            cases.add(set(base, "dimensions unknown (" + family + ")", "dimensions", Map.of("dept", Map.of("budgets", List.of(1)))));
        }
        // model keys per family
        Map<String, Object[]> mlpBad = new LinkedHashMap<>();
        mlpBad.put("hidden", new Object[] {0, -1, 65536, 1 << 17, "wide", 2.5});
        mlpBad.put("blocks", new Object[] {0, 257, "x"});
        mlpBad.put("inputs", new Object[] {0, 1 << 25});
        mlpBad.put("classes", new Object[] {1, 1 << 21});
        mlpBad.forEach((key, values) -> {
            for (Object v : values) {
                cases.add(set(mlp(), "model." + key + " = " + v + " (mlp)", "model." + key, v));
            }
        });
        cases.add(set(mlp(), "model.dim on mlp", "model.dim", 32));
        Map<String, Object[]> llamaBad = new LinkedHashMap<>();
        llamaBad.put("dim", new Object[] {0, 1, 65536, 1 << 17, "x"});
        llamaBad.put("layers", new Object[] {0, 513, 1.5});
        llamaBad.put("heads", new Object[] {0, 5, 3, 64});
        llamaBad.put("kv-heads", new Object[] {0, 3, 4});
        llamaBad.put("head-dim", new Object[] {1, 3, 1 << 13});
        llamaBad.put("ffn", new Object[] {0, 1 << 21});
        llamaBad.put("context", new Object[] {1, 1 << 17, 65536});
        llamaBad.put("vocab", new Object[] {1, 1 << 23});
        llamaBad.put("tied", new Object[] {"yes", 2});
        llamaBad.put("rope-theta", new Object[] {"NaN", "Infinity", "x"});
        llamaBad.put("norm-eps", new Object[] {"Infinity", "x"});
        llamaBad.put("exit-heads", new Object[] {List.of(0), List.of(2), List.of(5), "x"});
        llamaBad.put("layer-heads", new Object[] {List.of(1), List.of(0, 2), List.of(2, 3)});
        llamaBad.forEach((key, values) -> {
            for (Object v : values) {
                cases.add(set(llama(), "model." + key + " = " + v + " (llama)", "model." + key, v));
            }
        });
        cases.add(set(llama(), "model.hidden on llama", "model.hidden", 32));
        cases.add(set(llama(), "family mismatch: cnn on text", "model.family", "cnn"));
        cases.add(set(llama(), "data.context 1", "data.context", 1));
        cases.add(set(llama(), "data.tokenizer missing file", "data.tokenizer", scratch.resolve("tok.json").toString()));
        cases.add(set(llama(), "data.tokenizer /dev/zero", "data.tokenizer", "/dev/zero"));
        cases.add(set(llama(), "data.tokenizer empty", "data.tokenizer", ""));
        Map<String, Object> instructions = new LinkedHashMap<>(Map.of("type", "instructions", "path", scratch.resolve("ex.jsonl").toString()));
        cases.add(set(llama(), "instructions without path", "data", Map.of("type", "instructions")).withPath("data.path"));
        cases.add(set(llama(), "instructions file missing", "data", instructions).withPath("data.path"));
        Map<String, Object> fifo = new LinkedHashMap<>(instructions);
        fifo.put("path", scratch.resolve("fifo").toString());
        cases.add(set(llama(), "instructions from a fifo", "data", fifo).withPath("data.path"));
        Map<String, Object> template = new LinkedHashMap<>(instructions);
        template.put("template", "bogus");
        cases.add(set(llama(), "instructions template bogus", "data", template).withPath("data.template"));
        Map<String, Object> unknown = new LinkedHashMap<>(instructions);
        unknown.put("files", List.of("x"));
        cases.add(set(llama(), "instructions unknown key", "data", unknown).withPath("data.files"));
        cases.add(set(llama(), "data.files matches nothing", "data.files", List.of("no-such-file*")));
        cases.add(set(llama(), "data.files bad glob", "data.files", List.of("[a")));
        cases.add(new Case("batch x context beyond memory", """
                model: { family: llama, dim: 32, layers: 2, heads: 2, ffn: 64, context: 4096 }
                data: { type: text, limit: 50, context: 4096 }
                train: { steps: 2, batch: 4096 }
                """, "train.batch"));
        cases.add(set(llama(), "model.context shorter than data.context", "model.context", 8));
        // plugin sections
        Map<String, Object[]> dimsBad = new LinkedHashMap<>();
        dimsBad.put("dimensions.width.budgets", new Object[] {List.of(0, 16), List.of(8, 32), "x", List.of()});
        dimsBad.put("dimensions.depth.budgets", new Object[] {List.of(1, 3), List.of(0), List.of("a")});
        dimsBad.put("dimensions.width.budgetz", new Object[] {List.of(8)});
        dimsBad.put("dimensions.heads", new Object[] {Map.of("budgets", List.of(1))});
        dimsBad.put("objective.type", new Object[] {"bogus", 3});
        dimsBad.put("objective.samples", new Object[] {0, "x"});
        dimsBad.put("objective.sandwich", new Object[] {"maybe"});
        dimsBad.put("objective.bogus", new Object[] {1});
        dimsBad.forEach((key, values) -> {
            for (Object v : values) {
                // plugins name the dimension (dimensions.depth) for budgets the model cannot take
                int dot = key.indexOf('.', "dimensions.".length());
                String path = key.startsWith("dimensions.") && dot > 0 ? key.substring(0, dot) : key;
                cases.add(set(sortedMlp(), key + " = " + v + " (sorted)", path, v));
            }
        });
        Map<String, Object[]> pluginBad = new LinkedHashMap<>();
        pluginBad.put("adapters[0].rank", new Object[] {0, -1, "x", 1000});
        pluginBad.put("adapters[0].targets", new Object[] {List.of("no_such_site"), List.of()});
        pluginBad.put("adapters[0].type", new Object[] {"lorra"});
        pluginBad.put("adapters[0].rnk", new Object[] {2});
        pluginBad.put("masks[0].every", new Object[] {-1, "x"});
        pluginBad.put("masks[0].targets", new Object[] {List.of("no_such_site")});
        pluginBad.put("masks[0].n", new Object[] {0, 5});
        pluginBad.put("masks[0].m", new Object[] {3});
        pluginBad.put("masks[0].bogus", new Object[] {1});
        pluginBad.put("masks[0].lambda-max", new Object[] {"NaN", -1});
        pluginBad.put("train.trainable", new Object[] {List.of("nothing.**")});
        pluginBad.forEach((key, values) -> {
            for (Object v : values) {
                cases.add(set(llamaPlugins(), key + " = " + v + " (plugins)", key, v));
            }
        });
        // text-level faults
        cases.add(new Case("duplicate train.steps", "model: { family: mlp, hidden: 16 }\ndata: { type: fashion-mnist, limit: 200 }\n"
                + "train: { steps: 20, steps: 1 }\n", "train.steps"));
        cases.add(new Case("duplicate section", "model: { family: mlp }\nmodel: { family: cnn }\ntrain: { steps: 1 }\n", "model"));
        cases.add(new Case("alias", "model: { family: mlp, hidden: &e 16, blocks: *e }\ntrain: { steps: 1 }\n", "model.blocks"));
        cases.add(new Case("second document", "model: { family: mlp }\ntrain: { steps: 1 }\n---\ntrain: { steps: 2 }\n", "a second YAML document"));
        cases.add(new Case(".nan", "model: { family: mlp }\ntrain: { steps: 1, lr: .nan }\n", "train.lr"));
        cases.add(new Case(".inf", "model: { family: mlp }\ntrain: { steps: 1, eps: .inf }\n", "train.eps"));
        cases.add(new Case("1e400", "model: { family: mlp }\ntrain: { steps: 1, clip: 1e400 }\n", "train.clip"));
        cases.add(new Case("huge string", "description: \"" + "x".repeat(70_000) + "\"\nmodel: { family: mlp }\ntrain: { steps: 1 }\n",
                "description"));
        cases.add(new Case("deep nesting", "model: " + "[".repeat(40) + "]".repeat(40) + "\ntrain: { steps: 1 }\n", "limit"));
        cases.add(new Case("not a mapping", "- 1\n- 2\n", "not a mapping"));
        cases.add(new Case("section is a scalar", "model: mlp\ntrain: { steps: 1 }\n", "model"));
        return cases;
    }

    private static String family(Map<String, Object> base) {
        return String.valueOf(((Map<?, ?>) base.get("model")).get("family"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> tree(String yaml) {
        try {
            return YAML.readValue(yaml, LinkedHashMap.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Case set(Map<String, Object> base, String what, String path, Object value) {
        Map<String, Object> copy = deepCopy(base);
        put(copy, path, value, false);
        return new Case(what, dump(copy), path);
    }

    private static Case remove(Map<String, Object> base, String what, String path) {
        Map<String, Object> copy = deepCopy(base);
        put(copy, path, null, true);
        return new Case(what, dump(copy), path);
    }

    /** Sets or removes a dotted path; {@code name[0]} indexes a list section. */
    @SuppressWarnings("unchecked")
    private static void put(Map<String, Object> root, String path, Object value, boolean remove) {
        String[] parts = path.split("\\.");
        Map<String, Object> node = root;
        for (int i = 0; i < parts.length - 1; i++) {
            String part = parts[i];
            if (part.endsWith("]")) {
                String name = part.substring(0, part.indexOf('['));
                int index = Integer.parseInt(part.substring(part.indexOf('[') + 1, part.length() - 1));
                node = (Map<String, Object>) ((List<Object>) node.get(name)).get(index);
            } else {
                node = (Map<String, Object>) node.computeIfAbsent(part, k -> new LinkedHashMap<>());
            }
        }
        String last = parts[parts.length - 1];
        if (remove) {
            node.remove(last);
        } else {
            node.put(last, value);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> T deepCopy(T value) {
        if (value instanceof Map<?, ?> m) {
            Map<String, Object> copy = new LinkedHashMap<>();
            m.forEach((k, v) -> copy.put((String) k, deepCopy(v)));
            return (T) copy;
        }
        if (value instanceof List<?> l) {
            List<Object> copy = new ArrayList<>();
            l.forEach(v -> copy.add(deepCopy(v)));
            return (T) copy;
        }
        return value;
    }

    private static String dump(Map<String, Object> tree) {
        try {
            return YAML.writeValueAsString(tree);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
