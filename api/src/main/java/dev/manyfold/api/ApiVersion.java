package dev.manyfold.api;

/** The version of this API, checked against each plugin's required range. */
public final class ApiVersion {
    /**
     * The version of the first API release. Kept unchanged: a compile-time constant is copied
     * into every plugin compiled against it, so changing it would tell API-1.0 plugins
     * something different from what they were built with. The version this jar implements is
     * {@link #provided()}.
     */
    public static final String CURRENT = "1.0.0";

    private static final String PROVIDED = "1.1.0";

    private ApiVersion() {}

    /**
     * The API version this jar implements. 1.1 added (all additive; 1.0 plugins load unchanged):
     * {@code InferenceSession.fork}, {@code Objective.trainedExits}, {@code Context.trainedExits},
     * decoder capabilities and exit rules, typed {@code Generation} statistics, {@code Settings}
     * optional getters, enums and targets, {@code Tensors}, the pruning-step and export-format
     * extension points, {@code MaskStrategy.pattern}, and the fused decode calls of
     * {@code InferenceSession} (forward, forwardKeeping, runLogits, draft, forwardFloats, runFloats).
     * Added later in the 1.1 line (also additive): {@code InferenceSession.Draft.greedy}, the
     * one-call greedy draft (its default is the {@code step} loop), {@code Draft.draftToken}, and
     * {@code objective.Scalars} (multiply or divide a training-graph array by a constant whose
     * memory libtorch owns, safe for backward).
     *
     * @since 1.1
     */
    public static String provided() {
        return PROVIDED;
    }
}
