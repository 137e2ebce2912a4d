package dev.manyfold.api.adapter;

import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * Extra trainable parameters attached to linear sites that change their effective weight:
 * {@code W_eff = mask ⊙ W0 + Σ delta}. LoRA, DSEE (low-rank + sparse), SLoRB and per-exit
 * heads are adapters.
 *
 * <p>Lifecycle: created once per run from a recipe section; {@link #attach} is called once
 * per targeted site when the model is built. Thread-safe.
 */
public interface Adapter {
    /** Site globs this adapter attaches to, e.g. {@code ["*.q_proj", "*.v_proj"]}. */
    List<String> targets();

    /**
     * Attaches to one site.
     *
     * @param site the site's dotted name
     * @param weight the site's full base weight {@code [out, in]} (W0), read only: use it to
     *     choose a support or initialise from it, never modify, close or keep it
     * @param parameters the long-lived manager that must own the adapter's parameters
     * @param seed a seed derived from the run seed and the site name
     */
    AttachedAdapter attach(String site, ai.djl.ndarray.NDArray weight, NDManager parameters, long seed);
}
