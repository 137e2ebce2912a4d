package dev.manyfold.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.ExitRule;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;
import dev.manyfold.runtime.data.HostBatch;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class EarlyExitLossTest {
    /** A rule that stops at the given exits whenever the exit's first logit is above {@code -inf}, i.e. always. */
    private static ExitRule always(List<Integer> exits) {
        return new ExitRule() {
            @Override
            public List<Integer> exits() {
                return exits;
            }

            @Override
            public boolean stops(int exit, float[] logits, int offset, int vocab) {
                return logits[offset] > Float.NEGATIVE_INFINITY;
            }
        };
    }

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
            EarlyExitLoss.Result r = EarlyExitLoss.evaluate(model, List.of(batch()), always(List.of()));
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
            EarlyExitLoss.Result r = EarlyExitLoss.evaluate(model, List.of(batch()), always(List.of(1)));
            assertThat(r.meanDepth()).isEqualTo(1.0);
            assertThat(r.exitLoss()).isCloseTo(exits.get(0).loss(), Offset.offset(1e-9));
            assertThat(r.fullLoss()).isCloseTo(exits.get(2).loss(), Offset.offset(1e-9));
        }
    }
}
