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
 * <p>A <em>draft</em> graph ({@link #draft(int, int)}, {@code drafts > 0}) runs {@code drafts}
 * greedy decode steps through layers {@code [0, to)} in one call: each step's argmax at exit
 * {@code to} is the next step's token; it returns every step's logits and hidden state.
 *
 * @param from first layer
 * @param to one past the last layer ({@code to == from}: embedding and/or head only)
 * @param drafts greedy steps of a draft graph, or 0
 */
public record GraphKey(int from, int to, boolean tokens, boolean logits, boolean hidden, boolean step, int drafts) {
    public GraphKey {
        if (from < 0 || to < from || !(logits || hidden)) {
            throw new IllegalArgumentException("no graph for layers [" + from + ", " + to + ") with logits=" + logits + " hidden=" + hidden);
        }
        if (drafts < 0 || drafts > 0 && (from != 0 || to < 1 || !tokens || !logits || !hidden || step)) {
            throw new IllegalArgumentException("no draft graph of " + drafts + " steps for layers [" + from + ", " + to + ")");
        }
    }

    public GraphKey(int from, int to, boolean tokens, boolean logits, boolean hidden, boolean step) {
        this(from, to, tokens, logits, hidden, step, 0);
    }

    /** The draft graph of {@code drafts} greedy steps at exit {@code exit}, e.g. {@code draft_0_2_k4.onnx}. */
    public static GraphKey draft(int exit, int drafts) {
        return new GraphKey(0, exit, true, true, true, false, drafts);
    }

    /** File name inside an export directory, e.g. {@code tokens_0_8_logits_step.onnx}. */
    public String fileName() {
        if (drafts > 0) {
            return "draft_0_" + to + "_k" + drafts + ".onnx";
        }
        return (tokens ? "tokens" : "hidden") + "_" + from + "_" + to + (logits ? "_logits" : "") + (hidden ? "_hidden" : "")
                + (step ? "_step" : "_any") + ".onnx";
    }

    /** Parses {@link #fileName()}, or null. */
    static GraphKey parse(String fileName) {
        String[] p = fileName.replace(".onnx", "").split("_");
        if (p.length == 4 && p[0].equals("draft") && p[3].startsWith("k")) {
            try {
                return new GraphKey(Integer.parseInt(p[1]), Integer.parseInt(p[2]), true, true, true, false, Integer.parseInt(p[3].substring(1)));
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
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
        return tokens && from > 0 && drafts == 0;
    }

    /** True when the graph runs at least one layer (and so needs positions and a cache). */
    public boolean hasLayers() {
        return to > from;
    }
}
