package dev.manyfold.api.adapter;

import dev.manyfold.api.Factory;

/** Creates {@link Adapter}s from the recipe's {@code adapters[i]} sections. */
public interface AdapterFactory extends Factory<Adapter> {}
