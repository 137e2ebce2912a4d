package dev.manyfold.plugin.speculative;

import dev.manyfold.testkit.TinyLanguageModel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class ConcurrentDecodingTest {
    @Test
    void eightThreadsTimesTwentyPromptsOnOneModelGiveTheSequentialOutputs() throws Exception {
        try (TinyLanguageModel tiny = new TinyLanguageModel(Decoders.LAYERS, 5)) {
            LanguageModel model = tiny.withEos(3);
            List<Decoder> decoders = List.of(Decoders.create(tiny, "self-speculative", Map.of("draft", 2, "adaptive", true)),
                    Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("1", 0.8, "2", 0.6))),
                    Decoders.create(tiny, "greedy", Map.of("temperature", 1.0, "top-k", 8, "seed", 5)));
            List<int[]> prompts = TinyLanguageModel.prompts(20, 41, 1, 10);
            int budget = 14;
            // Sequential reference: every decoder on every prompt.
            List<List<int[]>> expected = new ArrayList<>();
            for (Decoder d : decoders) {
                List<int[]> outputs = new ArrayList<>();
                for (int[] p : prompts) {
                    outputs.add(d.generate(model, p, budget, t -> { }).tokens());
                }
                expected.add(outputs);
            }
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<List<int[]>>> futures = new ArrayList<>();
                for (int thread = 0; thread < 8; thread++) {
                    Decoder d = decoders.get(thread % decoders.size());
                    int offset = thread;
                    futures.add(pool.submit(() -> {
                        // Each thread walks the prompts from a different start so calls interleave differently.
                        int[][] out = new int[prompts.size()][];
                        for (int i = 0; i < prompts.size(); i++) {
                            int j = (i + offset * 3) % prompts.size();
                            out[j] = d.generate(model, prompts.get(j), budget, t -> { }).tokens();
                        }
                        return List.of(out);
                    }));
                }
                for (int thread = 0; thread < 8; thread++) {
                    List<int[]> got = futures.get(thread).get();
                    for (int i = 0; i < prompts.size(); i++) {
                        assertThat(got.get(i)).as("thread %d, prompt %d", thread, i).containsExactly(expected.get(thread % decoders.size()).get(i));
                    }
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
