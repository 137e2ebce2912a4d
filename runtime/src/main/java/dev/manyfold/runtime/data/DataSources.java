package dev.manyfold.runtime.data;

import dev.manyfold.api.Settings;
import dev.manyfold.runtime.model.ModelFactory;
import dev.manyfold.runtime.train.HostBatch;
import dev.manyfold.runtime.train.TrainConfig;
import dev.manyfold.runtime.train.TrainingData;
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
    public static TrainingData open(Settings section, TrainConfig train) {
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

    private static final class Vision implements TrainingData {
        private final DataConfig config;
        private final Split<ClassificationData> split;
        private final ClassificationBatcher batcher;
        private final TrainConfig train;

        Vision(DataConfig config, Split<ClassificationData> split, TrainConfig train) {
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
        private final TrainConfig train;

        Text(DataConfig config, Tokenizer tokenizer, Split<TokenData> split, TrainConfig train) {
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
            return String.format("%s %s (%,d train / %,d validation tokens, context %d)", config.type(), config.path(),
                    split.train().size(), split.validation().size(), config.context());
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
