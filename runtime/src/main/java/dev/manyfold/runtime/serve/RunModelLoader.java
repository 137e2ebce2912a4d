package dev.manyfold.runtime.serve;

import dev.manyfold.api.Settings;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.data.Tokenizer;
import dev.manyfold.runtime.host.ExtensionKind;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.TrainJob;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Loads a run directory or checkpoint on the host's PyTorch engine (the model core). */
public final class RunModelLoader {
    private RunModelLoader() {}

    /** Loads the run's latest checkpoint with its recipe, tokenizer and the host's decoders. */
    public static ServedModel load(Manyfold host, Path path, String id) {
        TrainJob.Prepared p = TrainJob.load(host, path, new PrintWriter(PrintWriter.nullWriter()));
        try {
            if (!(p.model() instanceof LanguageModel model)) {
                throw new IllegalArgumentException(path + " holds a " + p.model().family()
                        + " model; serve needs a language model (family llama)");
            }
            Tokenizer tokenizer = p.data().tokenizer().orElseThrow(() -> new IllegalArgumentException(
                    path + " was trained on " + p.data().describe() + ", which has no tokenizer; serve needs text data"));
            ServedModel.Decoders decoders = new ServedModel.Decoders() {
                @Override
                public List<String> names() {
                    return host.extensions().decoders().keySet().stream().sorted().toList();
                }

                @Override
                public Decoder create(String type, Map<String, Object> settings, String sectionPath, String typePath) {
                    return createDecoder(host, p, type, settings, sectionPath, typePath);
                }
            };
            return new ServedModel(id, model, tokenizer, decoders, () -> {
                tokenizer.close();
                p.close();
            });
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /** Creates a decoder through the loaded plugins, as the recipe validator would for a {@code decode} section at {@code path}. */
    public static Decoder createDecoder(Manyfold host, TrainJob.Prepared p, String type, Map<String, Object> settings, String path,
            String typePath) {
        HostContext context = new HostContext(p.config().seed(), Optional.of(p.model().shape()), Path.of("."), line -> {},
                p.recipe().asMap());
        return host.extensions().create(host.extensions().decoders(), ExtensionKind.DECODER, type, Settings.of(path, settings), context,
                typePath);
    }
}
