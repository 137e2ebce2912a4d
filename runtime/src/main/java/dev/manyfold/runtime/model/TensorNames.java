package dev.manyfold.runtime.model;

/**
 * Every tensor-name convention of the model's checkpoints, spelled once: the prefixes of
 * masks ({@code mask.<site>}), adapter tensors ({@code adapters.<i>.<site>.<name>}) and
 * optimiser moments ({@code optim.m.<param>}, {@code optim.v.<param>}), and the LLaMA layer
 * names ({@code layers.<i>.attn.q_proj}). Host code builds and tests names only through
 * these (an architecture test refuses the literals elsewhere).
 */
public final class TensorNames {
    /** Prefix of a site's mask tensor. */
    public static final String MASK = "mask.";
    /** Prefix of every adapter tensor (and of {@code train.trainable} globs naming them). */
    public static final String ADAPTERS = "adapters.";
    /** Prefix of optimiser state. */
    public static final String OPTIM = "optim.";
    /** Prefix of AdamW's first moments. */
    public static final String OPTIM_M = OPTIM + "m.";
    /** Prefix of AdamW's second moments. */
    public static final String OPTIM_V = OPTIM + "v.";
    /** Prefix of a transformer layer's tensors and sites. */
    public static final String LAYERS = "layers.";

    private TensorNames() {}

    /** {@code mask.<site>}. */
    public static String mask(String site) {
        return MASK + site;
    }

    /** Whether {@code name} is a mask tensor. */
    public static boolean isMask(String name) {
        return name.startsWith(MASK);
    }

    /** The site of mask tensor {@code name} ({@code mask.<site>}). */
    public static String maskedSite(String name) {
        return name.substring(MASK.length());
    }

    /** {@code adapters.<index>.<site>.}: the prefix of adapter {@code index}'s tensors on {@code site}. */
    public static String adapterPrefix(int index, String site) {
        return ADAPTERS + index + "." + site + ".";
    }

    /** {@code adapters.<index>.}: the prefix of all of adapter {@code index}'s tensors. */
    public static String adapterPrefix(int index) {
        return ADAPTERS + index + ".";
    }

    /** Whether {@code name} is an adapter tensor. */
    public static boolean isAdapter(String name) {
        return name.startsWith(ADAPTERS);
    }

    /** Whether {@code name} is optimiser state. */
    public static boolean isOptimizerState(String name) {
        return name.startsWith(OPTIM);
    }

    /** Whether {@code name} is an AdamW moment ({@code optim.m.X} or {@code optim.v.X}). */
    public static boolean isMoment(String name) {
        return name.startsWith(OPTIM_M) || name.startsWith(OPTIM_V);
    }

    /** The parameter of moment {@code name} ({@link #isMoment} must hold). */
    public static String momentParameter(String name) {
        return name.substring(OPTIM_M.length());
    }

    /** Whether {@code name} is none of mask, adapter or optimiser state: a base tensor of the model. */
    public static boolean isBase(String name) {
        return !isMask(name) && !isAdapter(name) && !isOptimizerState(name);
    }

    /** {@code layers.<i>}: the prefix of layer {@code i}'s sites and tensors (without the final dot). */
    public static String layer(int i) {
        return LAYERS + i;
    }

    /** {@code layers.<i>.attn.<projection>}, e.g. {@code layers.0.attn.q_proj}. */
    public static String attention(int i, String projection) {
        return layer(i) + ".attn." + projection;
    }
}
