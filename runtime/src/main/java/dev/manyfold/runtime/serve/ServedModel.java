package dev.manyfold.runtime.serve;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.data.Tokenizer;
import java.util.List;
import java.util.Map;

/**
 * What the server serves: one language model (one set of weights), its tokenizer and the
 * decoders it can be driven by. Every budget the server offers is a decoder over this one
 * model.
 *
 * @param id the model id clients send ({@code RUN}); exits are offered as {@code RUN:exit-N}
 * @param chatTemplate how chat messages become a prompt: the instruction template the model was tuned on ({@code chat},
 *     {@code alpaca}, {@code custom PROMPT}) or {@code plain} ({@code role: content} lines)
 * @param decoders creates decoders from a request's settings
 * @param resources released when the server closes (the engine's weights, the tokenizer)
 */
public record ServedModel(String id, LanguageModel model, Tokenizer tokenizer, String chatTemplate, Decoders decoders,
        AutoCloseable resources) implements AutoCloseable {
    public ServedModel {
        requireNonNull(id, "id is null");
        requireNonNull(model, "model is null");
        requireNonNull(tokenizer, "tokenizer is null");
        requireNonNull(chatTemplate, "chatTemplate is null");
        requireNonNull(decoders, "decoders is null");
        requireNonNull(resources, "resources is null");
    }

    /** Releases the resources. */
    @Override
    public void close() throws Exception {
        resources.close();
    }

    /** Creates decoders exactly as a recipe's {@code decode} section or {@code --set} would. */
    public interface Decoders {
        /** The names of the decoders the loaded plugins contribute, sorted. */
        List<String> names();

        /**
         * The decoder a request that names none gets: the loaded factory that declares itself
         * the default ({@link dev.manyfold.api.decoder.DecoderFactory#isDefault()}).
         *
         * @throws IllegalArgumentException when no loaded factory (or more than one) is the default
         */
        String defaultName();

        /**
         * Creates a decoder.
         *
         * @param type the decoder name
         * @param settings its settings (without the name), as a recipe section
         * @param path the recipe-style path of the section, used in errors ({@code manyfold})
         * @param typePath the path of the field that named the decoder ({@code manyfold.decoder})
         * @throws dev.manyfold.api.ConfigException naming the path of a bad setting
         */
        Decoder create(String type, Map<String, Object> settings, String path, String typePath);
    }
}
