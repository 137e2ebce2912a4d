package dev.manyfold.runtime.builtin;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.util.HashSet;
import java.util.List;
import java.util.Random;

/**
 * {@code last-token}: sequence classification from the last prompt token, as GPT-style
 * classifiers do. The language model's logits at the first labelled position of each row
 * (with instruction data: the prompt's last token, whose label is the answer's first token)
 * are restricted to the K class tokens, and the loss is the K-way cross-entropy of the
 * answer's class. The head is therefore the K rows of {@code lm_head} for the class tokens
 * (a verbalizer head initialised from the pre-trained model); it trains only if
 * {@code train.trainable} includes {@code lm_head}.
 *
 * <pre>{@code
 * data: { type: instructions, path: quotes.jsonl, template: "custom {instruction}\n#", context: 112 }
 * objective: { type: last-token, classes: [65, 66, 67, 68, 69] }   # token ids of "A".."E" (byte tokenizer)
 * }</pre>
 */
public final class LastTokenObjective implements Objective {
    /** The objective's recipe name. */
    public static final String NAME = "last-token";

    private final long[] classes;

    /** @param classes the class token ids, distinct, at least two */
    public LastTokenObjective(long[] classes) {
        this.classes = classes.clone();
    }

    /** The factory registered by {@link CorePlugin}. */
    static ObjectiveFactory factory() {
        return new ObjectiveFactory() {
            @Override
            public String name() {
                return NAME;
            }

            @Override
            public String description() {
                return "K-way cross-entropy of the class token at each row's last prompt position (last-token classification)";
            }

            @Override
            public Objective create(Settings settings, Context context) {
                settings.check(settings.has("classes"), "classes", "is missing",
                        "the token ids of the class labels, e.g. [65, 66] for \"A\" and \"B\" with the byte tokenizer");
                List<Integer> ids = settings.getIntList("classes", List.of());
                settings.check(ids.size() >= 2, "classes", "needs at least 2 class tokens, got " + ids.size(),
                        "the token ids of the class labels, e.g. [65, 66] for \"A\" and \"B\" with the byte tokenizer");
                settings.check(new HashSet<>(ids).size() == ids.size(), "classes", "repeats a token id " + ids,
                        "distinct token ids");
                for (int id : ids) {
                    settings.check(id >= 0, "classes", "token id " + id + " is negative", "token ids ≥ 0");
                    context.model().flatMap(shape -> {
                        java.util.OptionalInt v = shape.size("vocab");
                        return v.isPresent() ? java.util.Optional.of(v.getAsInt()) : java.util.Optional.empty();
                    }).ifPresent(vocab -> settings.check(id < vocab, "classes", "token id " + id
                            + " is outside the vocabulary of " + vocab, "token ids below " + vocab));
                }
                return new LastTokenObjective(ids.stream().mapToLong(Integer::longValue).toArray());
            }
        };
    }

    @Override
    public NDArray loss(ElasticModel model, Batch batch, long step, Random random) {
        NDArray[] picked = pick(model.forward(batch.inputs(), SubModel.FULL), batch.labels(), classes);
        return picked[0].logSoftmax(-1).mul(picked[1]).sum(new int[] {-1}).mean().neg();
    }

    /**
     * The class logits and one-hot targets of a batch.
     *
     * @param logits {@code [batch, seq, vocab]}
     * @param labels {@code [batch, seq]}, negative where a position does not count; each row's
     *     first non-negative label must be one of {@code classes}
     * @return {@code [batch, K]} logits at each row's first labelled position restricted to the
     *     class tokens, and {@code [batch, K]} one-hot targets (float)
     * @throws IllegalArgumentException naming the row when its first label is not a class token
     *     or it has no labelled position
     */
    public static NDArray[] pick(NDArray logits, NDArray labels, long[] classes) {
        long seq = logits.getShape().get(1);
        long vocab = logits.getShape().get(2);
        NDArray ids = labels.toType(DataType.INT64, false);
        // the first labelled position: argMax returns the first maximum of the 0/1 mask
        NDArray position = ids.gte(0).toType(DataType.FLOAT32, false).argMax(1).oneHot(Math.toIntExact(seq));
        NDArray atPosition = logits.mul(position.toType(logits.getDataType(), false).expandDims(-1)).sum(new int[] {1});
        NDArray classIds = logits.getManager().create(classes);
        NDArray select = classIds.oneHot(Math.toIntExact(vocab)).toType(logits.getDataType(), false); // [K, vocab]
        NDArray classLogits = atPosition.matMul(select.transpose());
        NDArray token = ids.mul(position.toType(DataType.INT64, false)).sum(new int[] {1}); // [batch]
        NDArray target = token.expandDims(1).eq(classIds.expandDims(0)).toType(DataType.FLOAT32, false);
        float[] hits = target.sum(new int[] {1}).toFloatArray();
        long[] tokens = token.toLongArray();
        for (int r = 0; r < hits.length; r++) {
            if (hits[r] != 1f) {
                throw new IllegalArgumentException("last-token objective: row " + r + " of the batch has label token " + tokens[r]
                        + " at its first labelled position, which is not one of the classes " + java.util.Arrays.toString(classes)
                        + " (or the row has no labelled position)");
            }
        }
        return new NDArray[] {classLogits, target.toType(logits.getDataType(), false)};
    }

    /** Number of rows whose largest class logit is the target's ({@link #pick} output). */
    public static int correct(NDArray[] picked) {
        long[] predicted = picked[0].argMax(1).toLongArray();
        long[] target = picked[1].argMax(1).toLongArray();
        int correct = 0;
        for (int i = 0; i < predicted.length; i++) {
            correct += predicted[i] == target[i] ? 1 : 0;
        }
        return correct;
    }
}
