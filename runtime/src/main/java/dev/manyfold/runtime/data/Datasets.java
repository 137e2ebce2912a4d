package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the data a recipe's {@code data} section describes: a tokenizer, and train and
 * validation parts. Everything is deterministic given the config and the seed.
 */
public final class Datasets {
    private Datasets() {}

    /**
     * The tokenizer of a text config: {@link ByteTokenizer} for {@code byte}, otherwise a
     * {@link HuggingFaceTokenizer} read from the path. The caller closes it.
     *
     * @throws DataException when the tokenizer file is missing or unusable
     */
    public static Tokenizer tokenizer(DataConfig config) {
        requireText(config);
        if (config.tokenizer().equals(DataConfig.BYTE_TOKENIZER)) {
            return new ByteTokenizer();
        }
        return HuggingFaceTokenizer.load(Path.of(config.tokenizer()));
    }

    /**
     * Train and validation parts of a {@code fashion-mnist} config. The training part is the
     * data set's train file; validation is its test file, or, when {@code validation} is set,
     * a seeded share of the train file (the test file then stays unseen). {@code limit} caps
     * each file.
     *
     * @throws DataException when the data set is missing (with the install hint) or corrupt
     */
    public static Split<ClassificationData> classification(DataConfig config, long seed) {
        requireNonNull(config, "config is null");
        if (!config.type().equals(DataConfig.FASHION_MNIST)) {
            throw new IllegalArgumentException("data type " + config.type() + " is not a classification data set");
        }
        int limit = config.limit().orElse(Integer.MAX_VALUE);
        ClassificationData train = FashionMnist.load(config.path(), FashionMnist.Part.TRAIN, limit);
        if (config.validation() > 0) {
            return train.split(config.validation(), seed);
        }
        return new Split<>(train, test(config));
    }

    /** The test part of a {@code fashion-mnist} config, capped by {@code limit}. */
    public static ClassificationData test(DataConfig config) {
        requireNonNull(config, "config is null");
        return FashionMnist.load(config.path(), FashionMnist.Part.TEST, config.limit().orElse(Integer.MAX_VALUE));
    }

    /**
     * Train and validation token streams of a {@code text} config: the corpus is read (files
     * chosen by {@code files}), sampled down to {@code limit} documents, split by documents
     * with the seed, and each part encoded into one stream with EOS after every document.
     *
     * @throws DataException when the corpus is missing (with the install hint) or a glob
     *     matches nothing
     */
    public static Split<TokenData> text(DataConfig config, Tokenizer tokenizer, long seed) {
        requireText(config);
        requireNonNull(tokenizer, "tokenizer is null");
        TextCorpus corpus = TextCorpus.read(config.path(), config.files());
        if (config.limit().isPresent()) {
            corpus = corpus.sample(config.limit().getAsInt(), seed);
        }
        if (corpus.size() < 2) {
            throw new DataException("text corpus " + config.path() + " has " + corpus.size()
                    + " document; a train/validation split needs at least 2");
        }
        Split<int[]> split = Split.indices(corpus.size(), config.validation(), seed);
        List<String> train = new ArrayList<>(corpus.select(split.train()));
        List<String> extra = new ArrayList<>();
        for (int i = 0; i < config.extraTrain().size(); i++) {
            extra.addAll(extraTrain(config, i).documents());
        }
        TokenData validation = TokenData.encode(corpus.select(split.validation()), tokenizer);
        if (config.extraTrainLabels()) {
            train.addAll(extra);
            return new Split<>(TokenData.encode(train, tokenizer), validation);
        }
        return new Split<>(TokenData.append(TokenData.encode(train, tokenizer), TokenData.encode(extra, tokenizer)), validation);
    }

    /** The recipe key of {@code data.extra-train[i]}, as its errors name it. */
    public static String extraTrainKey(int i) {
        return DataConfig.EXTRA_TRAIN + "[" + i + "]";
    }

    /**
     * Checks {@code data.extra-train[i]} without reading it: it exists, and is a text file or a
     * directory of text files within their size caps ({@link TextCorpus#files}).
     *
     * @throws DataException {@code "data.extra-train[i]: WHAT"} otherwise
     */
    public static void checkExtraTrain(DataConfig config, int i) {
        Path p = config.extraTrain().get(i);
        String key = "data." + extraTrainKey(i);
        if (!Files.exists(p)) {
            throw new DataException(key + ": " + p + " does not exist (documents added to the training part only, e.g. written by "
                    + "`manyfold generate RUN --prompts-file FILE --output " + p + "`)");
        }
        try {
            TextCorpus.files(p, List.of());
        } catch (DataException e) {
            throw new DataException(key + ": " + e.getMessage().replaceFirst("^data\\.[a-z]+: ", ""), e);
        }
    }

    /**
     * The documents of {@code data.extra-train[i]}: every text file of a directory, or one file,
     * in the {@code fortune} format ({@code %} lines between documents).
     *
     * @throws DataException naming {@code data.extra-train[i]} when it is missing, not a file or
     *     directory, or holds no documents
     */
    static TextCorpus extraTrain(DataConfig config, int i) {
        checkExtraTrain(config, i);
        try {
            return TextCorpus.read(config.extraTrain().get(i));
        } catch (DataException e) {
            throw new DataException("data." + extraTrainKey(i) + ": " + e.getMessage().replaceFirst("^data\\.[a-z]+: ", ""), e);
        }
    }

    private static void requireText(DataConfig config) {
        requireNonNull(config, "config is null");
        if (!config.isText()) {
            throw new IllegalArgumentException("data type " + config.type() + " is not a text data set");
        }
    }
}
