package dev.manyfold.api.objective;

import dev.manyfold.api.Factory;

/** Creates {@link Objective}s from the recipe's {@code objective} section. */
public interface ObjectiveFactory extends Factory<Objective> {}
