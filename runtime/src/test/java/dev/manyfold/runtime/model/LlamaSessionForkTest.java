package dev.manyfold.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.InferenceSession;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** API 1.1: {@link InferenceSession#fork()} and composed weights shared between sessions. */
class LlamaSessionForkTest {
    private static final LlamaModel.Config CONFIG = LlamaModelTest.CONFIG;
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

    private static float[] next(InferenceSession s, int token, int pos, NDManager m) {
        return s.logits(s.run(s.embed(new int[] {token}, pos, m), 0, 3, pos, m), m).toFloatArray();
    }

    @Test
    void aForkContinuesExactlyLikeItsParentAndTheTwoCachesAreIndependent() {
        int[] prefix = {4, 8, 15, 16};
        try (NDManager m = manager.newSubManager(); InferenceSession parent = model.open(m)) {
            parent.run(parent.embed(prefix, 0, m), 0, 3, 0, m);
            assertThat(parent.canFork()).isTrue();
            try (InferenceSession fork = parent.fork()) {
                assertThat(fork.cachedLength(2)).isEqualTo(4);
                float[] a = next(parent, 23, 4, m);
                float[] b = next(fork, 23, 4, m);
                assertThat(b).containsExactly(a, Offset.offset(0f));
                // Diverge: the fork takes another token and is cropped; the parent is untouched.
                next(fork, 9, 5, m);
                fork.crop(2);
                assertThat(fork.cachedLength(0)).isEqualTo(2);
                assertThat(parent.cachedLength(0)).isEqualTo(5);
                float[] parentNext = next(parent, 9, 5, m);
                try (InferenceSession fresh = model.open(m)) {
                    fresh.run(fresh.embed(new int[] {4, 8, 15, 16, 23}, 0, m), 0, 3, 0, m);
                    assertThat(next(fresh, 9, 5, m)).containsExactly(parentNext, Offset.offset(1e-5f));
                }
            }
            // The parent keeps working after its fork closed (the shared weights are still alive).
            assertThat(next(parent, 1, 6, m)).hasSize(CONFIG.vocab());
        }
    }

    @Test
    void sessionsShareComposedWeightsUntilTheModelChanges() {
        try (NDManager m = manager.newSubManager()) {
            float[] before;
            try (InferenceSession s = model.open(m)) {
                before = next(s, 3, 0, m);
            }
            try (InferenceSession s1 = model.open(m); InferenceSession s2 = model.open(m)) {
                assertThat(((LlamaSession) s1).weights()).isSameAs(((LlamaSession) s2).weights());
                assertThat(next(s1, 3, 0, m)).containsExactly(before, Offset.offset(0f));
            }
            // An in-place change (as an optimiser step makes) must not be hidden by the cache.
            NDArray head = model.parameters().get("norm.weight");
            try (NDManager t = m.newSubManager()) {
                model.parameters().assign("norm.weight", dev.manyfold.api.Tensors.own(t, head.mul(2)));
            }
            try (InferenceSession s = model.open(m)) {
                assertThat(next(s, 3, 0, m)).isNotEqualTo(before);
            }
        }
    }
}
