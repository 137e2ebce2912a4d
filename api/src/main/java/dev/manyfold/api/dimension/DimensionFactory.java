package dev.manyfold.api.dimension;

import dev.manyfold.api.Factory;

/** Creates {@link Dimension}s from the recipe's {@code dimensions.<name>} sections. */
public interface DimensionFactory extends Factory<Dimension> {}
