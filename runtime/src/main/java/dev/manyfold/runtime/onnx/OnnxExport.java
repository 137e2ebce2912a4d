package dev.manyfold.runtime.onnx;

import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.LlamaWeights;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Exports a LLaMA run as a directory of ONNX graphs that describe themselves in
 * {@code metadata_props}. For the full model and every trained exit {@code e}: a prefill graph
 * ({@code tokens_0_e_logits_any.onnx}) and a decode step with the KV cache in and out
 * ({@code tokens_0_e_logits_hidden_step.onnx}, which also returns the hidden state so a
 * self-speculative draft is one call per token); for every exit below the full depth the
 * verification graphs {@code hidden_e_L_logits_any.onnx} and {@code tokens_e_L_logits_any.onnx}
 * (the latter also runs the last drafted token through the draft layers: see
 * {@link GraphKey#tail()}) and the draft graph of four greedy steps {@code draft_0_e_k4.onnx}
 * ({@link GraphKey#draft}); and one graph per layer plus the
 * head and the embedding, from which an engine composes any other layer range.
 */
public final class OnnxExport {
    public static final String VERSION = "0.2.0";
    public static final String META_FORMAT = "manyfold.format";
    public static final String FORMAT_LLAMA = "manyfold-llama-graphs/2";
    public static final String FORMAT_CLASSIFIER = "manyfold-classifier/1";
    public static final String META_VERSION = "manyfold.version";
    public static final String META_CONFIG = "manyfold.model-config";
    public static final String META_EXITS = "manyfold.exits";
    public static final String META_EOS = "manyfold.eos";
    public static final String META_TOKENIZER = "manyfold.tokenizer";
    public static final String META_SOURCE = "manyfold.source";
    public static final String META_GRAPH = "manyfold.graph";
    public static final String META_LAYERS = "manyfold.layers";
    public static final String META_EXIT = "manyfold.exit-depth";
    public static final String META_SUB_MODEL = "manyfold.sub-model";

    private OnnxExport() {}

    /** The self-description every graph of {@code model} carries. */
    public static Map<String, String> metadata(LlamaModel model, String tokenizer, String source) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(META_FORMAT, FORMAT_LLAMA);
        m.put(META_VERSION, VERSION);
        m.put(META_CONFIG, json(model.config()));
        m.put(META_EXITS, model.exits().stream().map(String::valueOf).collect(Collectors.joining(",")));
        m.put(META_EOS, String.valueOf(model.eosToken().orElse(-1)));
        m.put(META_TOKENIZER, tokenizer);
        m.put(META_SOURCE, source);
        return m;
    }

    /** Graphs exported for {@code exits} (ascending, the last being the full depth); {@code only} restricts to one exit. */
    public static List<GraphKey> standardKeys(int layers, List<Integer> exits, Integer only) {
        List<GraphKey> keys = new ArrayList<>();
        for (int e : exits) {
            if (only != null && e != only) {
                continue;
            }
            keys.add(new GraphKey(0, e, true, true, false, false));
            keys.add(new GraphKey(0, e, true, true, true, true));
            if (e < layers) {
                keys.add(new GraphKey(e, layers, false, true, false, false));
                keys.add(new GraphKey(e, layers, true, true, false, false));
                // Self-speculative drafting of K = 4 (the default) in one call; other K fall back to one call per draft.
                keys.add(GraphKey.draft(e, 4));
            }
        }
        if (only == null) {
            // Early exit with any thresholds: from each exit to every deeper one, with that exit's logits, as a one-token step
            // and over several positions (catching up skipped layers), so no segment is run as a chain of per-layer graphs.
            for (int i = 0; i < exits.size(); i++) {
                for (int j = i + 1; j < exits.size(); j++) {
                    keys.add(new GraphKey(exits.get(i), exits.get(j), false, true, true, true));
                    keys.add(new GraphKey(exits.get(i), exits.get(j), false, true, true, false));
                }
            }
            for (int i = 0; i < layers; i++) {
                keys.add(new GraphKey(i, i + 1, false, false, true, false));
            }
            keys.add(new GraphKey(0, 0, false, true, false, false));
            keys.add(new GraphKey(0, 0, true, false, true, false));
        }
        return keys;
    }

    /** Writes {@code keys}' graphs into {@code dir} (created); returns the files written. */
    public static List<Path> write(LlamaGraphs graphs, List<GraphKey> keys, Path dir) {
        try {
            Files.createDirectories(dir);
            List<Path> written = new ArrayList<>();
            for (GraphKey k : keys) {
                Path f = dir.resolve(k.fileName());
                writeAtomically(f, graphs.build(k));
                written.add(f);
            }
            return written;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write ONNX graphs to " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Replaces {@code file} at once: the bytes go to a temporary file of a unique name in the same
     * directory ({@code .NAME.RANDOM.tmp}, never taken for a graph), which is then renamed over it.
     * Concurrent writers of the same file (threads, or processes sharing a directory) never mix
     * their bytes, and a reader sees no file or a complete one.
     */
    static void writeAtomically(Path file, byte[] bytes) throws IOException {
        // Not Files.createTempFile: its owner-only permissions would hide the graph from executors running as other users.
        Path tmp = file.toAbsolutePath().resolveSibling("." + file.getFileName() + "." + Long.toHexString(
                java.util.concurrent.ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            Files.write(tmp, bytes, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Graph builder for {@code model}. */
    public static LlamaGraphs graphs(LlamaModel model, String tokenizer, String source) {
        return new LlamaGraphs(LlamaWeights.of(model), metadata(model, tokenizer, source));
    }

    static String json(Object value) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(value);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
