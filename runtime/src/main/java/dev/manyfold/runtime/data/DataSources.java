package dev.manyfold.runtime.data;

import dev.manyfold.api.Settings;
import dev.manyfold.runtime.model.ModelFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens the recipe's {@code data} section as {@link TrainingData}: micro-batch
 * {@code (step, micro)} is batch {@code (step − 1)·accumulate + micro} of a seeded batcher,
 * a pure function of the seed, so resumed runs see the same data.
 */
public final class DataSources {
    private DataSources() {}

    /** Reads, validates (unknown keys refused) and loads the data. */
    public static TrainingData open(Settings section, Sampling train) {
        if (InstructionData.TYPE.equals(section.asMap().get("type"))) {
            return InstructionData.open(section, train);
        }
        DataConfig config = DataConfig.from(section);
        section.rejectUnknown();
        if (config.isText()) {
            Tokenizer tokenizer = Datasets.tokenizer(config);
            Split<TokenData> split = Datasets.text(config, tokenizer, train.seed());
            return new Text(config, tokenizer, split, train);
        }
        return new Vision(config, Datasets.classification(config, train.seed()), train);
    }

    /** The largest tokenizer file read. */
    static final long MAX_TOKENIZER_BYTES = 256L << 20;

    /**
     * Every check {@link #open} makes before reading the data, without reading it: the
     * section's keys and values, that the data exists as regular files within their size
     * caps, and (text) the tokenizer, which is small and decides the vocabulary.
     *
     * @return what the data decides about the model
     */
    public static ModelFactory.DataShape check(Settings section, Sampling train) {
        if (InstructionData.TYPE.equals(section.asMap().get("type"))) {
            return InstructionData.check(section);
        }
        DataConfig config = DataConfig.from(section);
        section.rejectUnknown();
        java.nio.file.Path path = config.path();
        if (config.isText()) {
            try {
                TextCorpus.files(path, config.files());
            } catch (DataException e) {
                throw section.invalid(e.getMessage().startsWith("data.files") ? "files" : "path", e.getMessage().replaceFirst("^data\\.[a-z]+: ", ""),
                        "a text file or a directory of text files");
            }
            for (int i = 0; i < config.extraTrain().size(); i++) {
                try {
                    Datasets.checkExtraTrain(config, i);
                } catch (DataException e) {
                    String key = Datasets.extraTrainKey(i);
                    throw section.invalid(key, e.getMessage().substring(("data." + key + ": ").length()),
                            "a text file or a directory of text files");
                }
            }
            if (config.tokenizer().equals(DataConfig.BYTE_TOKENIZER)) {
                try (Tokenizer t = new ByteTokenizer()) {
                    return ModelFactory.DataShape.text(t.vocabularySize(), t.eosToken(), config.context());
                }
            }
            java.nio.file.Path tokenizer = java.nio.file.Path.of(config.tokenizer());
            java.nio.file.Path file = java.nio.file.Files.isDirectory(tokenizer) ? tokenizer.resolve("tokenizer.json") : tokenizer;
            checkRegular(section, "tokenizer", file, MAX_TOKENIZER_BYTES, "`byte` or the path of a Hugging Face tokenizer.json");
            try (Tokenizer t = Datasets.tokenizer(config)) {
                return ModelFactory.DataShape.text(t.vocabularySize(), t.eosToken(), config.context());
            } catch (DataException e) {
                throw section.invalid("tokenizer", e.getMessage(), "`byte` or the path of a Hugging Face tokenizer.json");
            }
        }
        if (!java.nio.file.Files.isDirectory(path)) {
            throw section.invalid("path", "Fashion-MNIST not found: " + (java.nio.file.Files.exists(path) ? path + " is not a directory"
                    : "directory " + path + " does not exist") + "; " + FashionMnist.INSTALL_HINT,
                    "the directory of the Fashion-MNIST files");
        }
        for (FashionMnist.Part part : FashionMnist.Part.values()) {
            for (String name : List.of(part.imagesFile(), part.labelsFile())) {
                checkRegular(section, "path", path.resolve(name), 1L << 30, "the directory of the Fashion-MNIST files; "
                        + FashionMnist.INSTALL_HINT);
            }
        }
        return ModelFactory.DataShape.vision(FashionMnist.SIDE * FashionMnist.SIDE, FashionMnist.CLASSES);
    }

    private static void checkRegular(Settings section, String key, java.nio.file.Path file, long maxBytes, String accepted) {
        try {
            if (!java.nio.file.Files.exists(file)) {
                throw section.invalid(key, file + " does not exist", accepted);
            }
            if (!java.nio.file.Files.isRegularFile(file)) {
                throw section.invalid(key, file + " is not a regular file (devices and pipes are not read)", accepted);
            }
            long size = java.nio.file.Files.size(file);
            if (size > maxBytes) {
                throw section.invalid(key, file + " is " + size + " bytes, more than the limit of " + maxBytes, accepted);
            }
        } catch (java.io.IOException e) {
            throw section.invalid(key, "cannot read " + file + ": " + e.getMessage(), accepted);
        }
    }

    private static final class Vision implements TrainingData {
        private final DataConfig config;
        private final Split<ClassificationData> split;
        private final ClassificationBatcher batcher;
        private final Sampling train;

        Vision(DataConfig config, Split<ClassificationData> split, Sampling train) {
            this.config = config;
            this.split = split;
            this.train = train;
            this.batcher = new ClassificationBatcher(split.train(), train.batch(), train.seed());
        }

        @Override
        public ModelFactory.DataShape shape() {
            return ModelFactory.DataShape.vision(split.train().featureCount(), split.train().classCount());
        }

        @Override
        public HostBatch train(long step, int micro) {
            return of(batcher.batch((step - 1) * train.accumulate() + micro));
        }

        private static HostBatch of(ClassificationBatch b) {
            return new HostBatch(b.features(), null, new long[] {b.size(), b.featureCount()}, b.labels(), new long[] {b.size()});
        }

        @Override
        public List<HostBatch> validation(int maxBatches) {
            List<HostBatch> out = new ArrayList<>();
            for (ClassificationBatch b : ClassificationBatcher.sequential(split.validation(), Math.max(train.batch(), 256))) {
                if (out.size() >= maxBatches) {
                    break;
                }
                out.add(of(b));
            }
            return out;
        }

        @Override
        public String describe() {
            return String.format("%s (%,d train / %,d validation examples)", config.type(), split.train().size(), split.validation().size());
        }

        @Override
        public boolean isText() {
            return false;
        }
    }

    private static final class Text implements TrainingData {
        private final DataConfig config;
        private final Tokenizer tokenizer;
        private final Split<TokenData> split;
        private final LanguageModelBatcher batcher;
        private final Sampling train;

        Text(DataConfig config, Tokenizer tokenizer, Split<TokenData> split, Sampling train) {
            this.config = config;
            this.tokenizer = tokenizer;
            this.split = split;
            this.train = train;
            this.batcher = new LanguageModelBatcher(split.train(), config.context(), train.batch(), train.seed());
        }

        @Override
        public ModelFactory.DataShape shape() {
            return ModelFactory.DataShape.text(tokenizer.vocabularySize(), tokenizer.eosToken(), config.context());
        }

        @Override
        public HostBatch train(long step, int micro) {
            return of(batcher.batch((step - 1) * train.accumulate() + micro));
        }

        private static HostBatch of(TokenBatch b) {
            long[] shape = {b.size(), b.context()};
            return new HostBatch(null, b.inputs(), shape, b.labels(), shape);
        }

        @Override
        public List<HostBatch> validation(int maxBatches) {
            List<HostBatch> out = new ArrayList<>();
            for (TokenBatch b : LanguageModelBatcher.sequential(split.validation(), config.context(), train.batch())) {
                if (out.size() >= maxBatches) {
                    break;
                }
                out.add(of(b));
            }
            return out;
        }

        @Override
        public String describe() {
            return String.format("%s %s%s (%,d train / %,d validation tokens, context %d)", config.type(), config.path(),
                    config.extraTrain().isEmpty() ? "" : " + extra-train " + config.extraTrain()
                            + (config.extraTrainLabels() ? "" : String.format(" (unlabelled: %,d tokens, distillation only)",
                                    split.train().size() - split.train().unlabelledFrom())), split.train().size(),
                    split.validation().size(), config.context());
        }

        @Override
        public boolean isText() {
            return true;
        }

        @Override
        public java.util.OptionalDouble unigramEntropy() {
            int vocab = tokenizer.vocabularySize();
            double[] counts = new double[vocab];
            java.util.Arrays.fill(counts, 1.0);
            for (int t : split.train().tokens()) {
                counts[t]++;
            }
            double total = java.util.Arrays.stream(counts).sum();
            double nats = 0;
            int[] validation = split.validation().tokens();
            for (int t : validation) {
                nats -= Math.log(counts[t] / total);
            }
            return java.util.OptionalDouble.of(nats / validation.length);
        }

        @Override
        public java.util.Optional<Tokenizer> tokenizer() {
            return java.util.Optional.of(tokenizer);
        }

        @Override
        public java.util.Optional<int[]> validationTokens() {
            return java.util.Optional.of(split.validation().tokens().clone());
        }
    }
}
