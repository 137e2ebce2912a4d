package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;

/**
 * A training part and a validation part of one data set.
 *
 * @param train the part to train on
 * @param validation the held-out part to evaluate on
 * @param <T> the data type
 */
public record Split<T>(T train, T validation) {
    public Split {
        requireNonNull(train, "train is null");
        requireNonNull(validation, "validation is null");
    }

    /**
     * A seeded random split of the indices {@code 0..size-1} into two disjoint parts that
     * together cover every index. The validation part holds {@code round(size * fraction)}
     * indices, at least one and at most {@code size - 1}. Both parts are sorted ascending, so
     * items keep their original order. The result depends only on the arguments.
     *
     * @param size number of items, at least 2
     * @param validationFraction the share held out, in {@code (0, 1)}
     * @param seed the seed of the shuffle
     */
    public static Split<int[]> indices(int size, double validationFraction, long seed) {
        if (!(validationFraction > 0 && validationFraction < 1)) {
            throw new IllegalArgumentException("validation fraction must be in (0, 1), got " + validationFraction);
        }
        if (size < 2) {
            throw new IllegalArgumentException("need at least 2 items to split into train and validation, got " + size);
        }
        int validationSize = (int) Math.max(1, Math.min(size - 1, Math.round(size * validationFraction)));
        int[] permutation = SplitMix.stream(seed, SplitMix.SPLIT, size).permutation(size);
        int[] validation = Arrays.copyOfRange(permutation, 0, validationSize);
        int[] train = Arrays.copyOfRange(permutation, validationSize, size);
        Arrays.sort(validation);
        Arrays.sort(train);
        return new Split<>(train, validation);
    }
}
