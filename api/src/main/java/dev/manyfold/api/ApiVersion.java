package dev.manyfold.api;

/** The version of this API, checked against each plugin's required range. */
public final class ApiVersion {
    /** The API version this jar implements. */
    public static final String CURRENT = "1.1.0";

    private ApiVersion() {}

    /**
     * The API version this jar implements ({@link #CURRENT}), read at run time: a plugin that
     * reads {@link #CURRENT} gets the value it was compiled against (the compiler copies
     * constants), whereas this method reports the API actually provided. 1.1 added (all
     * additive; 1.0 plugins load unchanged): {@code InferenceSession.fork},
     * {@code Objective.trainedExits}, {@code Context.trainedExits}, decoder capabilities and
     * exit rules, typed {@code Generation} statistics, {@code Settings} optional getters, enums
     * and targets, {@code Tensors}, the pruning-step and export-format extension points,
     * {@code MaskStrategy.pattern}, and the fused decode calls of {@code InferenceSession}
     * (forward, forwardKeeping, runLogits, draft, forwardFloats, runFloats).
     * Added later in the 1.1 line (also additive): {@code InferenceSession.Draft.greedy}, the
     * one-call greedy draft (its default is the {@code step} loop), {@code Draft.draftToken},
     * {@code objective.Scalars} (multiply or divide a training-graph array by a constant whose
     * memory libtorch owns, safe for backward) and {@code MaskStrategy.prunedDecayInGradient}.
     * Then {@code Batch.UNLABELLED}: the label of a real position without a target token
     * (distillation-only training text), skipped by every loss that reads labels.
     *
     * @since 1.1
     */
    public static String provided() {
        return CURRENT;
    }
}
