package dev.manyfold.plugin.ast;

/**
 * Mask stability counts between two keep masks of one site (AST §7). Summed over sites and
 * divided by the total number of mask entries D they give
 * <pre>
 *   r_t     = ‖m_t − m_{t−1}‖₁ / D     entries that changed since the previous mask
 *   i_t     = ‖m_t − m_0‖₁ / D         entries that differ from the initial mask
 *   revived = |{pruned in m_0, kept in m_t}| / D
 * </pre>
 * Under N:M every group keeps exactly N, so each revived entry pairs with a newly pruned one
 * in the same group and {@code i_t = 2·revived}.
 */
public record FlipRates(long changed, long fromInitial, long revived, long entries) {
    /** Counts for one site. */
    public static FlipRates of(boolean[] current, boolean[] previous, boolean[] initial) {
        if (current.length != previous.length || current.length != initial.length) {
            throw new IllegalArgumentException("masks of different sizes: " + current.length + ", " + previous.length + ", "
                    + initial.length);
        }
        long changed = 0;
        long fromInitial = 0;
        long revived = 0;
        for (int i = 0; i < current.length; i++) {
            if (current[i] != previous[i]) {
                changed++;
            }
            if (current[i] != initial[i]) {
                fromInitial++;
                if (current[i]) {
                    revived++;
                }
            }
        }
        return new FlipRates(changed, fromInitial, revived, current.length);
    }

    /** No counts. */
    public static FlipRates zero() {
        return new FlipRates(0, 0, 0, 0);
    }

    /** The sum of two sites' counts. */
    public FlipRates plus(FlipRates other) {
        return new FlipRates(changed + other.changed, fromInitial + other.fromInitial, revived + other.revived,
                entries + other.entries);
    }

    /** r_t. */
    public double flipRate() {
        return entries == 0 ? 0.0 : (double) changed / entries;
    }

    /** i_t. */
    public double initialFlipRate() {
        return entries == 0 ? 0.0 : (double) fromInitial / entries;
    }

    /** Fraction of entries pruned at initialisation and kept now. */
    public double revivedRate() {
        return entries == 0 ? 0.0 : (double) revived / entries;
    }
}
