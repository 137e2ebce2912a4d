package dev.manyfold.runtime.serve;

import dev.manyfold.runtime.data.Tokenizer;
import java.util.Arrays;
import java.util.List;

/**
 * The text of a decode as its tokens arrive, cut at the first stop sequence. Each
 * {@link #accept} returns the text that became final: the whole output is decoded again and
 * only the new suffix is returned; a suffix ending in U+FFFD (an incomplete UTF-8 sequence of
 * a byte tokenizer) waits for the next token, and the last {@code longest stop - 1}
 * characters are held back until they cannot begin a stop sequence. Not thread-safe.
 */
final class TextStream {
    private final Tokenizer tokenizer;
    private final List<String> stops;
    private final int holdBack;
    private int[] tokens = new int[16];
    private int count;
    private String emitted = "";
    private boolean stopped;

    TextStream(Tokenizer tokenizer, List<String> stops) {
        this.tokenizer = tokenizer;
        this.stops = List.copyOf(stops);
        this.holdBack = stops.stream().mapToInt(String::length).max().orElse(1) - 1;
    }

    /** Adds a token; returns the text that became final (possibly empty). */
    String accept(int token) {
        if (count == tokens.length) {
            tokens = Arrays.copyOf(tokens, count * 2);
        }
        tokens[count++] = token;
        String text = tokenizer.decode(Arrays.copyOf(tokens, count));
        if (text.endsWith("\uFFFD")) {
            return "";
        }
        String visible = cut(text);
        if (!stopped) {
            visible = visible.substring(0, Math.max(emitted.length(), visible.length() - holdBack));
        }
        return advance(visible);
    }

    /** At the end of the decode: the rest of the text (up to a stop sequence). */
    String finish() {
        return advance(cut(tokenizer.decode(Arrays.copyOf(tokens, count))));
    }

    /** Whether a stop sequence has appeared; the decode should end. */
    boolean stopped() {
        return stopped;
    }

    /** The tokens accepted so far. */
    int tokens() {
        return count;
    }

    /** All text returned so far. */
    String text() {
        return emitted;
    }

    private String cut(String text) {
        int at = -1;
        for (String stop : stops) {
            int i = text.indexOf(stop);
            if (i >= 0 && (at < 0 || i < at)) {
                at = i;
            }
        }
        if (at >= 0) {
            stopped = true;
            return text.substring(0, at);
        }
        return text;
    }

    private String advance(String visible) {
        // Decoding is prefix-stable for byte and BPE tokenizers; should one re-segment, only new length is returned.
        if (visible.length() <= emitted.length()) {
            return "";
        }
        String delta = visible.substring(emitted.length());
        emitted = visible;
        return delta;
    }
}
