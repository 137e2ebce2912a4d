package dev.manyfold.api.decoder;

import dev.manyfold.api.Factory;

/** Creates {@link Decoder}s from the recipe's {@code decode} section. */
public interface DecoderFactory extends Factory<Decoder> {}
