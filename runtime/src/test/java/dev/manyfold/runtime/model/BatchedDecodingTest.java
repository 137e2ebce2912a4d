package dev.manyfold.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.InferenceSession;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class BatchedDecodingTest {
    /** Grouped-query attention (4 heads, 2 KV heads), 3 layers, context 24. */
    private static final LlamaModel.Config CONFIG = new LlamaModel.Config(37, 32, 3, 4, 2, 8, 48, 24, false, 10000, 1e-5, 36);
    private NDManager manager;
    private LlamaModel model;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        model = new LlamaModel(new ParameterStore(manager, 7), CONFIG);
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void batchedStepsOfSessionsWithCachesOfDifferentLengthsEqualEachSessionsOwnSteps() {
        int[][] prompts = {{1, 5, 9}, {2}, {30, 11, 7, 3, 8, 19, 4}};
        int[][] next = {{4, 6, 8, 10}, {12, 14, 16, 18}, {20, 22, 24, 26}};
        for (int depth : List.of(2, 3)) {
            try (NDManager m = manager.newSubManager()) {
                InferenceSession[] alone = new InferenceSession[3];
                InferenceSession[] batched = new InferenceSession[3];
                for (int r = 0; r < 3; r++) {
                    alone[r] = model.open(m);
                    batched[r] = model.open(m);
                    alone[r].forward(prompts[r], 0, depth, m);
                    batched[r].forward(prompts[r], 0, depth, m);
                    assertThat(model.batchable(batched[r])).isTrue();
                }
                for (int step = 0; step < 4; step++) {
                    int[] tokens = new int[3];
                    int[] starts = new int[3];
                    for (int r = 0; r < 3; r++) {
                        tokens[r] = next[r][step];
                        starts[r] = prompts[r].length + step;
                    }
                    float[][] rows;
                    try (NDManager s = m.newSubManager()) {
                        rows = model.forwardBatch(List.of(batched), tokens, starts, depth, s);
                    }
                    for (int r = 0; r < 3; r++) {
                        float[] own;
                        try (NDManager s = m.newSubManager()) {
                            own = alone[r].forward(new int[] {tokens[r]}, starts[r], depth, s);
                        }
                        assertThat(rows[r]).hasSize(CONFIG.vocab());
                        for (int v = 0; v < own.length; v++) {
                            assertThat(rows[r][v]).as("depth %d step %d row %d logit %d", depth, step, r, v).isCloseTo(own[v], Offset.offset(1e-4f));
                        }
                        assertThat(batched[r].cachedLength(0)).isEqualTo(starts[r] + 1);
                        assertThat(batched[r].cachedLength(depth - 1)).isEqualTo(starts[r] + 1);
                    }
                }
                for (int r = 0; r < 3; r++) {
                    alone[r].close();
                    batched[r].close();
                }
            }
        }
    }

    @Test
    void rowsInAnyOrderOrSubsetAndSessionsLeavingTheBatchedPathKeepEqualingTheirOwnSteps() {
        int[][] prompts = {{1, 5, 9}, {2}, {30, 11, 7, 3, 8, 19, 4}};
        try (NDManager m = manager.newSubManager()) {
            InferenceSession[] alone = new InferenceSession[3];
            InferenceSession[] batched = new InferenceSession[3];
            int[] length = new int[3];
            for (int r = 0; r < 3; r++) {
                alone[r] = model.open(m);
                batched[r] = model.open(m);
                alone[r].forward(prompts[r], 0, 3, m);
                batched[r].forward(prompts[r], 0, 3, m);
                length[r] = prompts[r].length;
            }
            // Each step: the rows batched, in this order; the others step on their own (a multi-token forward for row 1 at step 3).
            int[][] plan = {{0, 1, 2}, {2, 0}, {1}, {2, 0}, {0, 2, 1}, {1, 2}};
            for (int step = 0; step < plan.length; step++) {
                int[] order = plan[step];
                int[] tokens = new int[order.length];
                int[] starts = new int[order.length];
                List<InferenceSession> rows = new java.util.ArrayList<>();
                for (int j = 0; j < order.length; j++) {
                    tokens[j] = 3 + 5 * step + order[j];
                    starts[j] = length[order[j]];
                    rows.add(batched[order[j]]);
                }
                float[][] out;
                try (NDManager s = m.newSubManager()) {
                    out = model.forwardBatch(rows, tokens, starts, 3, s);
                }
                for (int j = 0; j < order.length; j++) {
                    int r = order[j];
                    float[] own;
                    try (NDManager s = m.newSubManager()) {
                        own = alone[r].forward(new int[] {tokens[j]}, starts[j], 3, s);
                    }
                    for (int v = 0; v < own.length; v++) {
                        assertThat(out[j][v]).as("step %d row %d logit %d", step, r, v).isCloseTo(own[v], Offset.offset(1e-4f));
                    }
                    length[r]++;
                }
                if (step == 3) {
                    int[] two = {17, 23};
                    float[] own;
                    float[] theirs;
                    try (NDManager s = m.newSubManager()) {
                        own = alone[1].forward(two, length[1], 3, s);
                        theirs = batched[1].forward(two, length[1], 3, s);
                    }
                    for (int v = 0; v < own.length; v++) {
                        assertThat(theirs[v]).as("row 1's own two-token step, logit %d", v).isCloseTo(own[v], Offset.offset(1e-4f));
                    }
                    length[1] += 2;
                }
                for (int r = 0; r < 3; r++) {
                    assertThat(batched[r].cachedLength(2)).as("step %d row %d", step, r).isEqualTo(length[r]);
                }
            }
            batched[0].crop(2);
            alone[0].crop(2);
            float[] own;
            float[][] after;
            try (NDManager s = m.newSubManager()) {
                own = alone[0].forward(new int[] {6}, 2, 3, s);
                after = model.forwardBatch(List.of(batched[0]), new int[] {6}, new int[] {2}, 3, s);
            }
            for (int v = 0; v < own.length; v++) {
                assertThat(after[0][v]).as("after a crop, logit %d", v).isCloseTo(own[v], Offset.offset(1e-4f));
            }
            for (int r = 0; r < 3; r++) {
                alone[r].close();
                batched[r].close();
            }
        }
    }

    @Test
    void aSessionOfAnotherModelIsRefusedBeforeAnyCacheChanges() {
        try (NDManager m = manager.newSubManager()) {
            LlamaModel other = new LlamaModel(new ParameterStore(m, 9), CONFIG);
            InferenceSession mine = model.open(m);
            InferenceSession foreign = other.open(m);
            mine.forward(new int[] {1, 2}, 0, 3, m);
            foreign.forward(new int[] {1, 2}, 0, 3, m);
            assertThat(model.batchable(foreign)).isFalse();
            assertThatThrownBy(() -> model.forwardBatch(List.of(mine, foreign), new int[] {3, 3}, new int[] {2, 2}, 3, m))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot be batched");
            assertThat(mine.cachedLength(0)).isEqualTo(2);
        }
    }

    @Test
    void aRowWhoseCacheDoesNotMatchItsPositionIsRefusedNamingTheRow() {
        try (NDManager m = manager.newSubManager()) {
            InferenceSession a = model.open(m);
            InferenceSession b = model.open(m);
            a.forward(new int[] {1, 2}, 0, 3, m);
            b.forward(new int[] {1, 2, 3}, 0, 3, m);
            assertThatThrownBy(() -> model.forwardBatch(List.of(a, b), new int[] {3, 3}, new int[] {2, 2}, 3, m))
                    .hasMessageContaining("row 1").hasMessageContaining("caches 3 positions, expected 2");
            assertThat(a.cachedLength(0)).isEqualTo(2);
        }
    }
}
