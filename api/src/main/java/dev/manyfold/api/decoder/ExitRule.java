package dev.manyfold.api.decoder;

import java.util.List;

/**
 * The per-token exit decision of an early-exit decoder, as a pure function of the logits at
 * each exit, so the host can apply the same rule teacher-forced to reference text (the
 * "early-exit loss" of {@code bench decode}) without knowing the decoder.
 *
 * <p>Rule: a position stops at the first exit of {@link #exits()} (ascending) for which
 * {@link #stops} is true, else at the full depth.
 *
 * @since 1.1
 */
public interface ExitRule {
    /** The intermediate exit depths the rule may stop at, ascending (the full depth excluded). */
    List<Integer> exits();

    /**
     * Whether a position stops at {@code exit}.
     *
     * @param exit one of {@link #exits()}
     * @param logits the exit's logits for one position: {@code vocab} floats from {@code offset}
     */
    boolean stops(int exit, float[] logits, int offset, int vocab);

    /** The index into {@code exits()} plus the full depth at which a position stops: {@code exits().size()} for the full depth. */
    default int choose(List<float[]> logitsPerExit, int offset, int vocab) {
        List<Integer> e = exits();
        for (int x = 0; x < e.size(); x++) {
            if (stops(e.get(x), logitsPerExit.get(x), offset, vocab)) {
                return x;
            }
        }
        return e.size();
    }
}
