package dev.manyfold.api;

import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * What a model family declares about one built model: which dimensions it can be cut
 * along, their maximum sizes, its linear sites and a few structural sizes. Immutable.
 */
public interface ModelShape {
    /** The family name, e.g. {@code "llama"} or {@code "mlp"}. */
    String family();

    /**
     * Supported dimensions and their maximum budgets, e.g. {@code depth → 8, heads → 8}.
     * A dimension not listed here cannot be used with this family.
     */
    Map<String, Integer> dimensions();

    /**
     * Structural sizes a dimension may need to validate budgets, e.g. {@code "kv-heads"},
     * {@code "dim"}, {@code "head-dim"}, {@code "vocab"}.
     */
    OptionalInt size(String name);

    /** Dotted names of all linear sites, e.g. {@code layers.3.attn.q_proj}. */
    List<String> sites();

    /** The full {@code [out, in]} shape of a linear site's weight. */
    int[] siteShape(String site);
}
