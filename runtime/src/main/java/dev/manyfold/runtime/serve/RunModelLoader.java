package dev.manyfold.runtime.serve;

import dev.manyfold.api.Settings;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.data.Tokenizer;
import dev.manyfold.runtime.host.ExtensionKind;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Loads a run directory or checkpoint for serving: its recipe, tokenizer and the host's
 * decoders, with the language model opened on an engine by an {@link Opener}.
 */
public final class RunModelLoader {
    /** Opens a prepared run's language model on one engine; a model that is {@link AutoCloseable} is closed with the server's model. */
    @FunctionalInterface
    public interface Opener {
        LanguageModel open(Run p, Path path);
    }

    /** The model core on DJL's PyTorch engine: the loaded model itself. */
    public static final Opener PYTORCH = (p, path) -> {
        if (!(p.model() instanceof LanguageModel model)) {
            throw new IllegalArgumentException(path + " holds a " + p.model().family() + " model; serve needs a language model (family llama)");
        }
        dev.manyfold.runtime.onnx.Engines.pytorchDecodeThreads(p.model());
        return model;
    };

    private RunModelLoader() {}

    /** Loads the run's latest checkpoint on PyTorch. */
    public static ServedModel load(Manyfold host, Path path, String id) {
        return load(host, path, id, PYTORCH);
    }

    /** Loads the run's latest checkpoint with its recipe and tokenizer, the model opened by {@code opener}. */
    public static ServedModel load(Manyfold host, Path path, String id, Opener opener) {
        Run p = TrainJob.load(host, path, new PrintWriter(PrintWriter.nullWriter()));
        try {
            Tokenizer tokenizer = p.data().tokenizer().orElseThrow(() -> new IllegalArgumentException(
                    path + " was trained on " + p.data().describe() + ", which has no tokenizer; serve needs text data"));
            LanguageModel model = opener.open(p, path);
            ServedModel.Decoders decoders = decoders(host, p.context());
            return new ServedModel(id, model, tokenizer, ChatPrompt.templateOf(p.recipe().asMap()), decoders, () -> {
                try {
                    if (model instanceof AutoCloseable closeable && model != p.model()) {
                        closeable.close();
                    }
                } finally {
                    tokenizer.close();
                    p.close();
                }
            });
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /** The chat template of models that carry no recipe (exports): {@code role: content} lines. */
    public static final String PLAIN_CHAT = ChatPrompt.PLAIN;

    /** The host's decoders, created in {@code context} as the recipe validator would create a {@code decode} section. */
    public static ServedModel.Decoders decoders(Manyfold host, HostContext context) {
        return new ServedModel.Decoders() {
            @Override
            public List<String> names() {
                return host.extensions().decoders().keySet().stream().sorted().toList();
            }

            @Override
            public String defaultName() {
                return host.extensions().defaultDecoder("manyfold.decoder");
            }

            @Override
            public Decoder create(String type, Map<String, Object> settings, String path, String typePath) {
                return host.extensions().create(host.extensions().decoders(), ExtensionKind.DECODER, type, Settings.of(path, settings),
                        context, typePath);
            }
        };
    }
}
