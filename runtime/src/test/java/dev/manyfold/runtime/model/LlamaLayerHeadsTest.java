package dev.manyfold.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.decoder.InferenceSession;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Per-layer head counts (a head-pruned model): shapes, accounting, forward = KV-cached decode, config checks. */
class LlamaLayerHeadsTest {
    static final LlamaModel.Config CONFIG = new LlamaModel.Config(37, 32, 3, 4, 4, 8, 48, 24, false, 10000, 1e-5, 36, List.of(),
            List.of(4, 2, 1));

    @Test
    void eachLayerHasItsOwnHeadsInShapesFlopsAndParameters() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = new LlamaModel(new ParameterStore(m, 3), CONFIG);
            int[] heads = {4, 2, 1};
            long perLayer = 0;
            for (int i = 0; i < 3; i++) {
                assertThat(model.site("layers." + i + ".attn.q_proj").outFeatures()).isEqualTo(heads[i] * 8);
                assertThat(model.site("layers." + i + ".attn.k_proj").outFeatures()).isEqualTo(heads[i] * 8);
                assertThat(model.site("layers." + i + ".attn.v_proj").outFeatures()).isEqualTo(heads[i] * 8);
                assertThat(model.site("layers." + i + ".attn.o_proj").inFeatures()).isEqualTo(heads[i] * 8);
                perLayer += 4L * 32 * heads[i] * 8 + 3L * 32 * 48;
            }
            assertThat(model.flops(SubModel.FULL)).isEqualTo(2 * (perLayer + 37L * 32));
            long stored = model.parameters().all().values().stream().mapToLong(a -> a.getShape().size()).sum();
            assertThat(model.parameterCount(SubModel.FULL)).isEqualTo(stored);
            assertThat(model.config()).containsEntry("layer-heads", List.of(4, 2, 1));
            // A heads budget caps every layer.
            assertThat(model.flops(SubModel.of(Map.of("heads", 2)))).isEqualTo(2 * (3L * 3 * 32 * 48 + 4L * 32 * 8 * (2 + 2 + 1) + 37L * 32));
        }
    }

    @Test
    void kvCachedDecodeEqualsTheFullForward() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = new LlamaModel(new ParameterStore(m, 5), CONFIG);
            int[] ids = {3, 1, 4, 1, 5, 9};
            float[] full;
            try (NDManager f = m.newSubManager()) {
                full = model.forward(f.create(new long[] {3, 1, 4, 1, 5, 9}).reshape(1, 6), SubModel.FULL).toFloatArray();
            }
            try (NDManager s = m.newSubManager(); InferenceSession session = model.open(s)) {
                for (int pos = 0; pos < ids.length; pos++) {
                    try (NDManager step = s.newSubManager()) {
                        NDArray h = session.run(session.embed(new int[] {ids[pos]}, pos, step), 0, 3, pos, step);
                        float[] logits = session.logits(h, step).toFloatArray();
                        for (int v = 0; v < 37; v++) {
                            assertThat(logits[v]).isCloseTo(full[pos * 37 + v], org.assertj.core.data.Offset.offset(1e-5f));
                        }
                    }
                }
            }
            // Prefill (several positions in one call) takes the multi-position path.
            try (NDManager s = m.newSubManager(); InferenceSession session = model.open(s)) {
                float[] logits = session.logits(session.run(session.embed(ids, 0, s), 0, 3, 0, s), s).toFloatArray();
                assertThat(logits).hasSize(full.length);
                for (int i = 0; i < full.length; i++) {
                    assertThat(logits[i]).isCloseTo(full[i], org.assertj.core.data.Offset.offset(1e-5f));
                }
            }
        }
    }

    @Test
    void layerHeadsAreCheckedWithTheirRecipePath() {
        for (Map<String, Object> bad : List.of(
                Map.<String, Object>of("family", "llama", "dim", 32, "layers", 2, "heads", 4, "layer-heads", List.of(4)),
                Map.<String, Object>of("family", "llama", "dim", 32, "layers", 2, "heads", 4, "layer-heads", List.of(4, 0)),
                Map.<String, Object>of("family", "llama", "dim", 32, "layers", 2, "heads", 4, "kv-heads", 2, "layer-heads", List.of(4, 2)))) {
            try (NDManager m = NDManager.newBaseManager()) {
                Throwable t = catchThrowable(() -> ModelFactory.build(Settings.of("model", bad), ModelFactory.DataShape.text(37, 36, 24), 1, m));
                assertThat(t).isInstanceOf(ConfigException.class);
                assertThat(((ConfigException) t).path()).isEqualTo("model.layer-heads");
            }
        }
    }
}
