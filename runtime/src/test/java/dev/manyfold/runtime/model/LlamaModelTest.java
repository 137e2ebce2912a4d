package dev.manyfold.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.objective.Losses;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class LlamaModelTest {
    static final LlamaModel.Config CONFIG = new LlamaModel.Config(37, 32, 3, 4, 2, 8, 48, 24, false, 10000, 1e-5, 36);
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

    private NDArray tokens(NDManager m, int... ids) {
        return m.create(ids).reshape(1, ids.length);
    }

    @Test
    void tokenByTokenDecodingWithKvCacheEqualsFullSequenceForward() {
        int[] ids = {1, 5, 9, 2, 30, 11, 7, 3, 8, 19};
        try (NDManager m = manager.newSubManager()) {
            for (int depth : List.of(1, 2, 3)) {
                float[] full = model.forward(tokens(m, ids), SubModel.of("depth", depth)).toFloatArray();
                try (InferenceSession session = model.open(m)) {
                    for (int pos = 0; pos < ids.length; pos++) {
                        try (NDManager step = m.newSubManager()) {
                            NDArray h = session.embed(new int[] {ids[pos]}, pos, step);
                            h = session.run(h, 0, depth, pos, step);
                            float[] logits = session.logits(h, step).toFloatArray();
                            for (int v = 0; v < CONFIG.vocab(); v++) {
                                assertThat(logits[v]).isCloseTo(full[pos * CONFIG.vocab() + v], org.assertj.core.data.Offset.offset(1e-5f));
                            }
                        }
                    }
                    assertThat(session.cachedLength(0)).isEqualTo(ids.length);
                }
            }
        }
    }

    @Test
    void aSessionUsedOnAnotherThreadRecordsNoAutogradGraph() throws Exception {
        // PyTorch's grad mode is per thread, and on by default on threads other than the engine's first:
        // there every op on a trainable parameter would record a graph that the KV cache keeps alive.
        Object[] outcome = new Object[2];
        Thread worker = new Thread(() -> {
            try (NDManager m = manager.newSubManager(); InferenceSession session = model.open(m)) {
                NDArray logits = session.logits(session.run(session.embed(new int[] {1, 2, 3}, 0, m), 0, 3, 0, m), m);
                NDArray loss = logits.sum();
                try {
                    ai.djl.pytorch.jni.JniUtils.backward((ai.djl.pytorch.engine.PtNDArray) loss,
                            (ai.djl.pytorch.engine.PtNDArray) m.ones(loss.getShape()), false, false);
                    outcome[0] = "a graph was recorded";
                } catch (RuntimeException e) {
                    outcome[0] = "no graph";
                }
                outcome[1] = ai.djl.pytorch.jni.JniUtils.isGradMode();
            }
        });
        worker.start();
        worker.join();
        assertThat(outcome).containsExactly("no graph", true);
    }

    @Test
    void croppedCacheContinuesLikeAFreshOne() {
        int[] ids = {4, 8, 15, 16, 23, 42 % 37};
        try (NDManager m = manager.newSubManager(); InferenceSession session = model.open(m)) {
            NDArray h = session.run(session.embed(ids, 0, m), 0, 3, 0, m);
            session.crop(3);
            assertThat(session.cachedLength(2)).isEqualTo(3);
            NDArray again = session.run(session.embed(new int[] {ids[3], ids[4], ids[5]}, 3, m), 0, 3, 3, m);
            assertThat(again.toFloatArray()).containsExactly(h.get(new NDIndex("3:")).toFloatArray(),
                    org.assertj.core.data.Offset.offset(1e-5f));
        }
    }

    @Test
    void logitsAreCausal() {
        try (NDManager m = manager.newSubManager()) {
            float[] a = model.forward(tokens(m, 1, 2, 3, 4, 5, 6), SubModel.FULL).toFloatArray();
            float[] b = model.forward(tokens(m, 1, 2, 3, 9, 9, 9), SubModel.FULL).toFloatArray();
            int prefix = 3 * CONFIG.vocab();
            for (int i = 0; i < prefix; i++) {
                assertThat(b[i]).isEqualTo(a[i]);
            }
            assertThat(b[prefix + 5]).isNotEqualTo(a[prefix + 5]);
        }
    }

    @Test
    void gradientOfASlicedForwardIsZeroOutsideTheSlice() {
        SubModel sub = SubModel.of(Map.of("heads", 2, "ffn", 20, "embedding", 16, "depth", 2));
        try (NDManager m = manager.newSubManager()) {
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray logits = model.forward(tokens(m, 1, 2, 3, 4), sub);
                gc.backward(Losses.crossEntropy(logits, m.create(new int[] {2, 3, 4, 5}).reshape(1, 4)));
            }
            NDArray gq = model.parameters().get("layers.0.attn.q_proj.weight").getGradient();
            assertThat(gq.get(new NDIndex("16:, :")).abs().sum().getFloat()).isZero();
            assertThat(gq.get(new NDIndex(":, 16:")).abs().sum().getFloat()).isZero();
            assertThat(gq.get(new NDIndex(":16, :16")).abs().sum().getFloat()).isPositive();
            NDArray gDown = model.parameters().get("layers.1.mlp.down_proj.weight").getGradient();
            assertThat(gDown.get(new NDIndex(":, 20:")).abs().sum().getFloat()).isZero();
            NDArray gDeep = model.parameters().get("layers.2.mlp.up_proj.weight").getGradient();
            assertThat(gDeep.abs().sum().getFloat()).isZero();
        }
    }

    @Test
    void subModelOutputsAreUnchangedByWeightsOutsideItsSlice() {
        SubModel sub = SubModel.of(Map.of("heads", 2, "ffn", 24, "depth", 2));
        try (NDManager m = manager.newSubManager()) {
            float[] before = model.forward(tokens(m, 3, 1, 4, 1, 5), sub).toFloatArray();
            NDArray w = model.parameters().get("layers.0.mlp.up_proj.weight");
            float[] values = w.toFloatArray();
            for (int r = 24; r < 48; r++) {
                for (int c = 0; c < 32; c++) {
                    values[r * 32 + c] = 99f;
                }
            }
            model.parameters().assign("layers.0.mlp.up_proj.weight", m.create(values, w.getShape()));
            model.parameters().assign("layers.2.mlp.up_proj.weight", model.parameters().get("layers.2.mlp.up_proj.weight").mul(5));
            float[] after = model.forward(tokens(m, 3, 1, 4, 1, 5), sub).toFloatArray();
            assertThat(after).containsExactly(before);
            float[] full = model.forward(tokens(m, 3, 1, 4, 1, 5), SubModel.FULL).toFloatArray();
            assertThat(full).isNotEqualTo(before);
        }
    }

    @Test
    void allExitsShareTheSameNormAndHead() {
        try (NDManager m = manager.newSubManager()) {
            List<NDArray> exits = model.forwardExits(tokens(m, 1, 2, 3), SubModel.FULL, List.of(1, 2, 3));
            assertThat(exits).hasSize(3);
            for (int d = 1; d <= 3; d++) {
                NDArray h = model.hidden(tokens(m, 1, 2, 3), SubModel.of("depth", d));
                assertThat(model.head(h, CONFIG.dim()).toFloatArray()).containsExactly(exits.get(d - 1).toFloatArray(),
                        org.assertj.core.data.Offset.offset(1e-6f));
            }
        }
    }

    @Test
    void aTiedHeadIsTheEmbeddingTensorAndReceivesBothGradients() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel tied = new LlamaModel(new ParameterStore(m, 3), new LlamaModel.Config(37, 32, 2, 4, 4, 8, 48, 24, true, 10000, 1e-5, 36));
            assertThat(tied.site("lm_head").weight()).isSameAs(tied.parameters().get("embed.weight"));
            assertThat(tied.parameters().contains("lm_head.weight")).isFalse();
            assertThat(tied.parameterCount(SubModel.FULL)).isEqualTo(tied.parameters().all().values().stream()
                    .mapToLong(a -> a.getShape().size()).sum());
            NDArray tokens = m.create(new int[] {1, 2, 3}).reshape(1, 3);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(Losses.crossEntropy(tied.forward(tokens, SubModel.FULL), m.create(new int[] {2, 3, 4}).reshape(1, 3)));
            }
            // rows of tokens never seen as inputs still get gradient through the head
            assertThat(tied.parameters().get("embed.weight").getGradient().get(new NDIndex("30")).abs().sum().getFloat()).isPositive();
        }
    }
}
