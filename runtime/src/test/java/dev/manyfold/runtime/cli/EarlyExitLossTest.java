package dev.manyfold.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;
import dev.manyfold.runtime.train.HostBatch;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class EarlyExitLossTest {
    private static HostBatch batch() {
        int[] tokens = {1, 5, 9, 2, 30, 11, 7, 3, 8, 19, 4, 4};
        int[] labels = {5, 9, 2, 30, 11, 7, 3, 8, 19, 4, 4, 6};
        return new HostBatch(null, tokens, new long[] {2, 6}, labels, new long[] {2, 6});
    }

    @Test
    void withoutThresholdsTheEarlyExitLossIsTheFullLossAndEveryPositionIsAtTheFullDepth() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = new LlamaModel(new ParameterStore(m, 3), new LlamaModel.Config(37, 32, 3, 4, 2, 8, 48, 24, false, 1e4, 1e-5, 36));
            model.setExits(List.of(1, 2, 3));
            EarlyExitLoss.Result r = EarlyExitLoss.evaluate(model, List.of(batch()), new TreeMap<>());
            assertThat(r.exitLoss()).isEqualTo(r.fullLoss());
            assertThat(r.meanDepth()).isEqualTo(3.0);
            assertThat(r.positions()).isEqualTo(12);
        }
    }

    @Test
    void aThresholdEveryPositionReachesScoresEachAtThatExit() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = new LlamaModel(new ParameterStore(m, 3), new LlamaModel.Config(37, 32, 3, 4, 2, 8, 48, 24, false, 1e4, 1e-5, 36));
            model.setExits(List.of(1, 2, 3));
            List<EarlyExitLoss.ExitRow> exits = EarlyExitLoss.exits(model, List.of(batch()));
            assertThat(exits).extracting(EarlyExitLoss.ExitRow::exit).containsExactly(1, 2, 3);
            assertThat(exits.get(2).agreement()).isEqualTo(1.0);
            EarlyExitLoss.Result r = EarlyExitLoss.evaluate(model, List.of(batch()), new TreeMap<>(Map.of(1, 1e-9)));
            assertThat(r.meanDepth()).isEqualTo(1.0);
            assertThat(r.exitLoss()).isCloseTo(exits.get(0).loss(), Offset.offset(1e-9));
            assertThat(r.fullLoss()).isCloseTo(exits.get(2).loss(), Offset.offset(1e-9));
        }
    }
}
