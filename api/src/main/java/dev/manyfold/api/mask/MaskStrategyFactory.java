package dev.manyfold.api.mask;

import dev.manyfold.api.Factory;

/** Creates {@link MaskStrategy}s from the recipe's {@code masks[i]} sections. */
public interface MaskStrategyFactory extends Factory<MaskStrategy> {}
