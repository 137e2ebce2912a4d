package dev.manyfold.api.decoder;

import dev.manyfold.api.Factory;

/** Creates {@link Decoder}s from the recipe's {@code decode} section. */
public interface DecoderFactory extends Factory<Decoder> {
    /**
     * Whether {@code generate} and {@code bench decode} use this decoder, with empty settings,
     * when the user names none and the recipe has no {@code decode} section. False by default;
     * when no or several loaded factories say true the host asks for an explicit decoder.
     *
     * @since 1.1
     */
    default boolean isDefault() {
        return false;
    }
}
