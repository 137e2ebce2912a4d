package dev.manyfold.runtime.onnx;

/**
 * Which LLaMA graph: layers {@code [from, to)}, fed token ids (embedding included) or hidden
 * states, ending in the shared norm + LM head ({@code logits}) and/or returning the hidden
 * states; {@code step} graphs take exactly one position (the lean decode step, no mask),
 * the others any number (prefill, verification).
 *
 * <p>A graph fed tokens whose range does not start at 0 is a <em>draft tail + verification</em>
 * graph ({@link #tail()}): it takes the hidden states of drafted positions at layer
 * {@code from} plus one more token, runs that token through the draft layers {@code [0, from)},
 * and all positions through {@code [from, to)}; so the last drafted token of a self-speculative
 * round costs no call of its own.
 *
 * @param from first layer
 * @param to one past the last layer ({@code to == from}: embedding and/or head only)
 */
public record GraphKey(int from, int to, boolean tokens, boolean logits, boolean hidden, boolean step) {
    public GraphKey {
        if (from < 0 || to < from || !(logits || hidden)) {
            throw new IllegalArgumentException("no graph for layers [" + from + ", " + to + ") with logits=" + logits + " hidden=" + hidden);
        }
    }

    /** File name inside an export directory, e.g. {@code tokens_0_8_logits_step.onnx}. */
    public String fileName() {
        return (tokens ? "tokens" : "hidden") + "_" + from + "_" + to + (logits ? "_logits" : "") + (hidden ? "_hidden" : "")
                + (step ? "_step" : "_any") + ".onnx";
    }

    /** Parses {@link #fileName()}, or null. */
    static GraphKey parse(String fileName) {
        String[] p = fileName.replace(".onnx", "").split("_");
        if (p.length < 5 || !(p[0].equals("tokens") || p[0].equals("hidden"))) {
            return null;
        }
        try {
            java.util.Set<String> flags = java.util.Set.of(p).stream().collect(java.util.stream.Collectors.toSet());
            return new GraphKey(Integer.parseInt(p[1]), Integer.parseInt(p[2]), p[0].equals("tokens"), flags.contains("logits"),
                    flags.contains("hidden"), flags.contains("step"));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** True for a draft tail + verification graph (tokens in, layers not starting at 0). */
    public boolean tail() {
        return tokens && from > 0;
    }

    /** True when the graph runs at least one layer (and so needs positions and a cache). */
    public boolean hasLayers() {
        return to > from;
    }
}
