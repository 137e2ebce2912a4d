package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class DataSplitTest {

    @Test
    void sameSeedGivesTheSameSplitAndAnotherSeedADifferentOne() {
        Split<int[]> a = Split.indices(1000, 0.1, 42);
        Split<int[]> b = Split.indices(1000, 0.1, 42);
        Split<int[]> c = Split.indices(1000, 0.1, 43);

        assertThat(b.train()).isEqualTo(a.train());
        assertThat(b.validation()).isEqualTo(a.validation());
        assertThat(c.validation()).isNotEqualTo(a.validation());
    }

    @Test
    void partsAreDisjointSortedAndCoverEveryIndex() {
        Split<int[]> split = Split.indices(1000, 0.25, 7);

        assertThat(split.validation()).hasSize(250).isSorted();
        assertThat(split.train()).hasSize(750).isSorted().doesNotContain(split.validation());
        assertThat(IntStream.concat(IntStream.of(split.train()), IntStream.of(split.validation())).sorted().toArray())
                .isEqualTo(IntStream.range(0, 1000).toArray());
    }

    @Test
    void validationPartIsNeverEmptyAndNeverEverything() {
        assertThat(Split.indices(3, 0.01, 1).validation()).hasSize(1);
        assertThat(Split.indices(3, 0.99, 1).validation()).hasSize(2);
        assertThat(Split.indices(3, 0.99, 1).train()).hasSize(1);
    }

    @Test
    void fractionOutsideTheOpenUnitIntervalAndTinySetsAreRejected() {
        assertThatThrownBy(() -> Split.indices(10, 0, 1)).hasMessageContaining("(0, 1)");
        assertThatThrownBy(() -> Split.indices(10, 1, 1)).hasMessageContaining("(0, 1)");
        assertThatThrownBy(() -> Split.indices(1, 0.5, 1)).hasMessageContaining("at least 2 items");
    }

    @Test
    void classificationSplitKeepsFeaturesWithTheirLabels() {
        int n = 50;
        float[] features = new float[n * 2];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            features[2 * i] = i;
            features[2 * i + 1] = -i;
            labels[i] = i % 5;
        }
        ClassificationData data = ClassificationData.of(features, 2, labels, 5);

        Split<ClassificationData> split = data.split(0.2, 3);

        assertThat(split.train().size()).isEqualTo(40);
        assertThat(split.validation().size()).isEqualTo(10);
        for (ClassificationData part : new ClassificationData[] {split.train(), split.validation()}) {
            for (int r = 0; r < part.size(); r++) {
                int original = (int) part.features()[2 * r];
                assertThat(part.features()[2 * r + 1]).isEqualTo(-original);
                assertThat(part.labels()[r]).isEqualTo(original % 5);
            }
        }
    }
}
