package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.List;

/**
 * Labelled examples with a fixed number of features each, as plain arrays.
 *
 * <p>Example {@code i} occupies {@code features[i * featureCount, (i + 1) * featureCount)}
 * (row-major {@code [size, featureCount]}); its class is {@code labels[i]}, in
 * {@code [0, classCount)}. The arrays are shared, not copied: treat them as read-only.
 *
 * @param features row-major {@code [size, featureCount]}
 * @param featureCount features per example
 * @param featureShape the shape of one example, e.g. {@code [28, 28]}; its product is
 *     {@code featureCount}
 * @param labels the class of each example, {@code [size]}
 * @param classCount the number of classes
 */
public record ClassificationData(float[] features, int featureCount, List<Integer> featureShape, int[] labels,
        int classCount) {

    public ClassificationData {
        requireNonNull(features, "features is null");
        requireNonNull(labels, "labels is null");
        featureShape = List.copyOf(requireNonNull(featureShape, "featureShape is null"));
        if (featureCount < 1) {
            throw new IllegalArgumentException("featureCount must be >= 1, got " + featureCount);
        }
        long product = 1;
        for (int d : featureShape) {
            product *= d;
        }
        if (product != featureCount) {
            throw new IllegalArgumentException("featureShape " + featureShape + " does not have " + featureCount + " elements");
        }
        if ((long) labels.length * featureCount != features.length) {
            throw new IllegalArgumentException("features has " + features.length + " values, expected " + labels.length
                    + " examples x " + featureCount + " features = " + (long) labels.length * featureCount);
        }
        if (classCount < 1) {
            throw new IllegalArgumentException("classCount must be >= 1, got " + classCount);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classCount) {
                throw new IllegalArgumentException("label " + labels[i] + " of example " + i + " is outside [0, " + classCount + ")");
            }
        }
    }

    /** A flat data set: one-dimensional feature shape. */
    public static ClassificationData of(float[] features, int featureCount, int[] labels, int classCount) {
        return new ClassificationData(features, featureCount, List.of(featureCount), labels, classCount);
    }

    /** The number of examples. */
    public int size() {
        return labels.length;
    }

    /** The examples at the given indices, in that order, copied into new arrays. */
    public ClassificationData select(int[] indices) {
        float[] f = new float[indices.length * featureCount];
        int[] l = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
            int index = indices[i];
            if (index < 0 || index >= size()) {
                throw new IndexOutOfBoundsException("example " + index + " of " + size());
            }
            System.arraycopy(features, index * featureCount, f, i * featureCount, featureCount);
            l[i] = labels[index];
        }
        return new ClassificationData(f, featureCount, featureShape, l, classCount);
    }

    /** The first {@code max} examples (this data set itself when it is not larger). */
    public ClassificationData limit(int max) {
        if (max < 0) {
            throw new IllegalArgumentException("limit must be >= 0, got " + max);
        }
        if (max >= size()) {
            return this;
        }
        return new ClassificationData(Arrays.copyOf(features, max * featureCount), featureCount, featureShape,
                Arrays.copyOf(labels, max), classCount);
    }

    /** A seeded split into train and validation examples; see {@link Split#indices}. */
    public Split<ClassificationData> split(double validationFraction, long seed) {
        Split<int[]> indices = Split.indices(size(), validationFraction, seed);
        return new Split<>(select(indices.train()), select(indices.validation()));
    }

    @Override
    public String toString() {
        return "ClassificationData[size=" + size() + ", featureShape=" + featureShape + ", classCount=" + classCount + "]";
    }
}
