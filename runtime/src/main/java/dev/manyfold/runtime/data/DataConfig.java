package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.Settings;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

/**
 * The recipe's {@code data} section.
 *
 * <pre>{@code
 * data: { type: text, path: /usr/share/games/fortunes, context: 128, tokenizer: byte,
 *         validation: 0.1, files: ["computers", "linux*"], limit: 5000,
 *         extra-train: [runs/deep-soft2/generated.txt], extra-train-labels: false }
 * data: { type: fashion-mnist, limit: 10000 }
 * }</pre>
 *
 * @param type {@code fashion-mnist} or {@code text}
 * @param path the data directory or file; the type's default when the recipe names none
 * @param validation the share of training data held out for validation, in {@code (0, 1)};
 *     for {@code fashion-mnist}, 0 (the default) means its test part is the validation set
 * @param context tokens per training window ({@code text}; 0 for {@code fashion-mnist})
 * @param tokenizer {@code byte} or the path of a {@code tokenizer.json} ({@code text}; empty for
 *     {@code fashion-mnist})
 * @param files name globs choosing the files of a text directory; {@code !glob} excludes;
 *     empty for all
 * @param limit the maximum number of examples per part ({@code fashion-mnist}) or documents,
 *     drawn by seed ({@code text})
 * @param extraTrain ({@code text}) files or directories of documents added to the training
 *     part only, after the split: the validation part is drawn from {@code path} alone, so it
 *     is the same with or without them (e.g. a model's own generations for on-policy
 *     distillation, written by {@code manyfold generate --prompts-file ... --output ...});
 *     empty for none
 * @param extraTrainLabels ({@code extra-train-labels}, default true) whether {@code extraTrain}
 *     text is learnt like the rest; false: its positions are inputs only, labelled
 *     {@link dev.manyfold.api.objective.Batch#UNLABELLED}, so that no cross-entropy trains on it
 *     and only a distilling objective does (e.g. {@code all-exits} with {@code distill}: the
 *     shallow exits learn the final exit's outputs on the model's own generations, and the final
 *     exit is not trained to imitate them)
 */
public record DataConfig(String type, Path path, double validation, int context, String tokenizer, List<String> files,
        OptionalInt limit, List<Path> extraTrain, boolean extraTrainLabels) {
    public static final String FASHION_MNIST = "fashion-mnist";
    public static final String TEXT = "text";
    /** The accepted values of {@code type}. */
    public static final List<String> TYPES = List.of(FASHION_MNIST, TEXT, InstructionData.TYPE);
    /** The key of {@link #extraTrain()}. */
    public static final String EXTRA_TRAIN = "extra-train";
    /** The key of {@link #extraTrainLabels()}. */
    public static final String EXTRA_TRAIN_LABELS = "extra-train-labels";
    /** The tokenizer that needs no file. */
    public static final String BYTE_TOKENIZER = "byte";

    public DataConfig {
        requireNonNull(type, "type is null");
        requireNonNull(path, "path is null");
        requireNonNull(tokenizer, "tokenizer is null");
        files = List.copyOf(requireNonNull(files, "files is null"));
        requireNonNull(limit, "limit is null");
        extraTrain = List.copyOf(requireNonNull(extraTrain, "extraTrain is null"));
    }

    /** A config without {@code extra-train} documents. */
    public DataConfig(String type, Path path, double validation, int context, String tokenizer, List<String> files, OptionalInt limit) {
        this(type, path, validation, context, tokenizer, files, limit, List.of(), true);
    }

    /**
     * Reads and validates the section. Keys that do not apply to the chosen type are left
     * unread, so {@link Settings#rejectUnknown()} (called by the recipe validator) refuses
     * them. Does not touch the file system: missing data is reported when it is loaded.
     *
     * @throws dev.manyfold.api.ConfigException naming the recipe path ({@code data.context})
     */
    public static DataConfig from(Settings s) {
        String type = s.getChoice("type", TYPES, null);
        if (type.equals(InstructionData.TYPE)) {
            throw new IllegalArgumentException("data type " + type + " is read by InstructionData.open, not DataConfig");
        }
        String pathValue = s.getString("path", null);
        s.check(pathValue == null || !pathValue.isBlank(), "path", "is empty", "a file or directory path");
        int limitValue = s.getInt("limit", Integer.MAX_VALUE, 1, Integer.MAX_VALUE);
        OptionalInt limit = s.has("limit") ? OptionalInt.of(limitValue) : OptionalInt.empty();
        if (type.equals(TEXT)) {
            double validation = s.getDouble("validation", 0.1);
            checkFraction(s, validation);
            int context = s.getInt("context", 128, 2, 1 << 20);
            String tokenizer = s.getString("tokenizer", BYTE_TOKENIZER);
            s.check(!tokenizer.isBlank(), "tokenizer", "is empty",
                    "`" + BYTE_TOKENIZER + "` or the path of a Hugging Face tokenizer.json");
            List<String> files = s.getStringList("files", List.of());
            for (int i = 0; i < files.size(); i++) {
                checkGlob(s, "files[" + i + "]", files.get(i));
            }
            Path path = pathValue == null ? TextCorpus.DEFAULT_PATH : Path.of(pathValue);
            List<String> extra = s.getStringList(EXTRA_TRAIN, List.of());
            for (int i = 0; i < extra.size(); i++) {
                s.check(!extra.get(i).isBlank(), EXTRA_TRAIN + "[" + i + "]", "is empty", "a text file or a directory of text files");
            }
            boolean labels = s.getBoolean(EXTRA_TRAIN_LABELS, true);
            s.check(labels || !extra.isEmpty(), EXTRA_TRAIN_LABELS, "is false but there is no extra-train text",
                    "extra-train: [FILE or DIRECTORY, ...] beside it, or no extra-train-labels");
            return new DataConfig(type, path, validation, context, tokenizer, files, limit, extra.stream().map(Path::of).toList(), labels);
        }
        double validation = s.getDouble("validation", 0.0);
        if (s.has("validation")) {
            checkFraction(s, validation);
        }
        Path path = pathValue == null ? FashionMnist.DEFAULT_DIRECTORY : Path.of(pathValue);
        return new DataConfig(type, path, validation, 0, "", List.of(), limit);
    }

    /** Whether this is a text (language-modelling) data set. */
    public boolean isText() {
        return type.equals(TEXT);
    }

    private static void checkFraction(Settings s, double validation) {
        s.check(validation > 0 && validation < 1, "validation", "fraction " + validation + " is out of range",
                "a fraction in (0, 1), e.g. 0.1");
    }

    private static void checkGlob(Settings s, String key, String glob) {
        String body = glob.startsWith("!") ? glob.substring(1) : glob;
        s.check(!body.isBlank(), key, "is empty", "a file-name glob such as \"linux*\" (\"!glob\" excludes)");
        try {
            FileSystems.getDefault().getPathMatcher("glob:" + body);
        } catch (IllegalArgumentException e) {
            throw s.invalid(key, "\"" + glob + "\" is not a valid glob (" + e.getMessage() + ")",
                    "a file-name glob such as \"linux*\" (\"!glob\" excludes)");
        }
    }
}
