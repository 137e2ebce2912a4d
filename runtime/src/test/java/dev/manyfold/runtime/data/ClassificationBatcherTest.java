package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ClassificationBatcherTest {

    /** Example i has features [i, i + 0.5] and label i % 3. */
    private static ClassificationData data(int n) {
        float[] features = new float[2 * n];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            features[2 * i] = i;
            features[2 * i + 1] = i + 0.5f;
            labels[i] = i % 3;
        }
        return ClassificationData.of(features, 2, labels, 3);
    }

    @Test
    void resumingFromASavedStateYieldsTheSameBatchesAsAnUninterruptedRun() {
        ClassificationData data = data(37);
        ClassificationBatcher uninterrupted = new ClassificationBatcher(data, 8, 42);
        List<ClassificationBatch> expected = new ArrayList<>();
        BatcherState saved = null;
        for (int step = 0; step < 30; step++) {
            if (step == 11) {
                saved = uninterrupted.state();
            }
            expected.add(uninterrupted.next());
        }

        ClassificationBatcher resumed = new ClassificationBatcher(data, 8, saved);

        assertThat(saved).isEqualTo(new BatcherState(42, 11));
        for (int step = 11; step < 30; step++) {
            ClassificationBatch batch = resumed.next();
            assertThat(batch.indices()).isEqualTo(expected.get(step).indices());
            assertThat(batch.features()).isEqualTo(expected.get(step).features());
            assertThat(batch.labels()).isEqualTo(expected.get(step).labels());
        }
        assertThat(resumed.state()).isEqualTo(uninterrupted.state());
    }

    @Test
    void batchKIsAPureFunctionOfSeedAndStep() {
        ClassificationData data = data(20);
        ClassificationBatcher a = new ClassificationBatcher(data, 6, 5);
        ClassificationBatcher b = new ClassificationBatcher(data, 6, 5);

        assertThat(a.batch(17).indices()).isEqualTo(b.batch(17).indices());
        assertThat(a.batch(3).indices()).isEqualTo(b.batch(3).indices());
        assertThat(a.batch(17).indices()).isEqualTo(b.batch(17).indices());
        assertThat(new ClassificationBatcher(data, 6, 6).batch(17).indices()).isNotEqualTo(a.batch(17).indices());
    }

    @Test
    void everyEpochVisitsEveryExampleExactlyOnceInANewOrder() {
        ClassificationBatcher batcher = new ClassificationBatcher(data(10), 5, 1);

        int[] epoch0 = IntStream.concat(IntStream.of(batcher.next().indices()), IntStream.of(batcher.next().indices())).toArray();
        int[] epoch1 = IntStream.concat(IntStream.of(batcher.next().indices()), IntStream.of(batcher.next().indices())).toArray();

        assertThat(epoch0).containsExactlyInAnyOrder(IntStream.range(0, 10).toArray());
        assertThat(epoch1).containsExactlyInAnyOrder(IntStream.range(0, 10).toArray());
        assertThat(epoch1).isNotEqualTo(epoch0);
        assertThat(batcher.epoch()).isEqualTo(2);
    }

    @Test
    void batchCrossingAnEpochBoundaryIsFullAndFinishesTheEpoch() {
        ClassificationBatcher batcher = new ClassificationBatcher(data(10), 4, 3);
        List<Integer> firstEpoch = new ArrayList<>();
        for (int k = 0; k < 2; k++) {
            for (int i : batcher.next().indices()) {
                firstEpoch.add(i);
            }
        }

        ClassificationBatch crossing = batcher.next();

        assertThat(crossing.size()).isEqualTo(4);
        firstEpoch.add(crossing.indices()[0]);
        firstEpoch.add(crossing.indices()[1]);
        assertThat(firstEpoch).containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        assertThat(batcher.stepsPerEpoch()).isEqualTo(3);
    }

    @Test
    void batchRowsCarryTheFeaturesAndLabelsOfTheirExamples() {
        ClassificationBatch batch = new ClassificationBatcher(data(50), 16, 9).batch(4);

        assertThat(batch.features()).hasSize(32);
        for (int r = 0; r < batch.size(); r++) {
            int i = batch.indices()[r];
            assertThat(batch.features()[2 * r]).isEqualTo(i);
            assertThat(batch.features()[2 * r + 1]).isEqualTo(i + 0.5f);
            assertThat(batch.labels()[r]).isEqualTo(i % 3);
        }
    }

    @Test
    void sequentialIterationCoversEveryExampleInOrderWithASmallerLastBatch() {
        List<Integer> sizes = new ArrayList<>();
        List<Integer> seen = new ArrayList<>();
        for (ClassificationBatch batch : ClassificationBatcher.sequential(data(10), 4)) {
            sizes.add(batch.size());
            for (int i : batch.indices()) {
                seen.add(i);
            }
        }

        assertThat(sizes).containsExactly(4, 4, 2);
        assertThat(seen).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    }
}
