package dev.manyfold.runtime.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class StepBatcherTest {
    private static final LlamaModel.Config CONFIG = new LlamaModel.Config(37, 32, 3, 4, 2, 8, 48, 32, false, 10000, 1e-5, 36);
    private NDManager manager;
    private LlamaModel model;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        model = new LlamaModel(new ParameterStore(manager, 11), CONFIG);
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** Greedy decoding through {@code lm}'s sessions: one prefill, then one-token forwards. */
    private static int[] greedy(LanguageModel lm, int[] prompt, int depth, int steps, CyclicBarrier start) throws Exception {
        int[] out = new int[steps];
        try (NDManager base = NDManager.newBaseManager(); InferenceSession session = lm.open(base)) {
            float[] logits = session.forward(prompt, 0, depth, base);
            if (start != null) {
                start.await(60, TimeUnit.SECONDS);
            }
            for (int i = 0; i < steps; i++) {
                int best = 0;
                for (int v = 1; v < logits.length; v++) {
                    best = logits[v] > logits[best] ? v : best;
                }
                out[i] = best;
                try (NDManager step = base.newSubManager()) {
                    logits = session.forward(new int[] {best}, prompt.length + i, depth, step);
                }
            }
        }
        return out;
    }

    @Test
    void concurrentGreedyDecodesThroughTheBatcherGiveTheTokensOfDecodingAloneInSharedForwards() throws Exception {
        int[][] prompts = {{1, 2, 3}, {4}, {5, 6, 7, 8, 9}, {10, 11}, {12, 13, 14, 15}, {16}};
        int[] depths = {3, 3, 2, 3, 2, 3};
        int steps = 12;
        List<int[]> alone = new ArrayList<>();
        for (int r = 0; r < prompts.length; r++) {
            alone.add(greedy(model, prompts[r], depths[r], steps, null));
        }
        StepBatcher batcher = new StepBatcher(model, 4, 200_000);
        LanguageModel batching = batcher.model();
        CyclicBarrier start = new CyclicBarrier(prompts.length);
        ExecutorService threads = Executors.newFixedThreadPool(prompts.length);
        try {
            List<Future<int[]>> futures = new ArrayList<>();
            for (int r = 0; r < prompts.length; r++) {
                int row = r;
                futures.add(threads.submit(() -> greedy(batching, prompts[row], depths[row], steps, start)));
            }
            for (int r = 0; r < prompts.length; r++) {
                assertThat(futures.get(r).get(120, TimeUnit.SECONDS)).as("row %d", r).containsExactly(alone.get(r));
            }
        } finally {
            threads.shutdownNow();
            batcher.close();
        }
        long[] counts = batcher.counts();
        long onePromptToken = java.util.Arrays.stream(prompts).filter(p -> p.length == 1).count();
        assertThat(counts[1]).as("every one-token forward went through the batcher, a one-token prompt's too")
                .isEqualTo((long) prompts.length * steps + onePromptToken);
        assertThat(counts[0]).as("some forwards held several sessions' steps").isLessThan(counts[1]);
        assertThat(alone.stream().map(java.util.Arrays::toString).distinct()).as("rows decode different tokens").hasSizeGreaterThan(1);
    }

    @Test
    void aModelThatCannotBatchIsRefusedNamingIt() {
        LanguageModel plain = new LanguageModel() {
            public int vocabularySize() {
                return model.vocabularySize();
            }

            public int contextLength() {
                return model.contextLength();
            }

            public int layers() {
                return model.layers();
            }

            public List<Integer> exits() {
                return model.exits();
            }

            public OptionalInt eosToken() {
                return OptionalInt.empty();
            }

            public InferenceSession open(NDManager m) {
                return model.open(m);
            }
        };
        assertThat(StepBatcher.supports(plain)).isFalse();
        assertThat(StepBatcher.supports(model)).isTrue();
        assertThatThrownBy(() -> new StepBatcher(plain, 4, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot batch decode steps");
    }
}
