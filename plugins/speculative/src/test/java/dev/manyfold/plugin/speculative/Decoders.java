package dev.manyfold.plugin.speculative;

import dev.manyfold.api.Context;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.testkit.Factories;
import dev.manyfold.testkit.TinyLanguageModel;
import java.util.Map;

/** This plugin's decoders created as the host creates them (testkit: strict settings, the model's context). */
final class Decoders {
    /** Layers of the test model. */
    static final int LAYERS = 4;

    private Decoders() {}

    /** A {@code type} decoder for {@code tiny}, its shape and trained exits in the context. */
    static Decoder create(TinyLanguageModel tiny, String type, Map<String, ?> settings) {
        return create(type, settings, tiny.context());
    }

    static Decoder create(String type, Map<String, ?> values, Context context) {
        DecoderFactory factory = new SpeculativePlugin().decoders().stream().filter(f -> f.name().equals(type)).findFirst().orElseThrow();
        return Factories.create(factory, "decode", values, context);
    }
}
