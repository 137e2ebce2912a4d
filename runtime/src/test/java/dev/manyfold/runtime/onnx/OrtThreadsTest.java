package dev.manyfold.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.ConfigException;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;
import java.util.List;
import org.junit.jupiter.api.Test;

/** ONNX Runtime's intra-op thread count: 1 for cache-sized models, 2 for bandwidth-bound ones, overridable. */
class OrtThreadsTest {
    @Test
    void smallModelsGetOneThreadAndModelsAboveThirtyTwoMegabytesGetTwo() {
        assertThat(Engines.defaultThreads(6_560_000L, 2)).isEqualTo(1); // deep-soft2
        assertThat(Engines.defaultThreads(Engines.LARGE_MODEL_BYTES, 2)).isEqualTo(1);
        assertThat(Engines.defaultThreads(Engines.LARGE_MODEL_BYTES + 1, 2)).isEqualTo(2);
        assertThat(Engines.defaultThreads(378_600_000L, 8)).isEqualTo(2); // the 95 M model
    }

    @Test
    void aSingleProcessorMachineNeverGetsASecondThread() {
        assertThat(Engines.defaultThreads(378_600_000L, 1)).isEqualTo(1);
    }

    @Test
    void theRecipeSettingOverridesTheDefaultAndAZeroIsRefusedNamingTheKey() {
        String saved = System.clearProperty(Engines.THREADS_PROPERTY);
        try {
            assertThat(Engines.threads(6_560_000L, 2)).isEqualTo(2);
            assertThat(Engines.threads(378_600_000L, 1)).isEqualTo(1);
            assertThat(Engines.threads(6_560_000L, null)).isEqualTo(1);
            assertThatThrownBy(() -> Engines.threads(1, 0)).isInstanceOf(ConfigException.class).hasMessageContaining("decode.onnx-threads");
        } finally {
            if (saved != null) {
                System.setProperty(Engines.THREADS_PROPERTY, saved);
            }
        }
    }

    @Test
    void theSystemPropertyOverridesTheRecipeAndBadValuesAreRefusedNamingIt() {
        String saved = System.getProperty(Engines.THREADS_PROPERTY);
        try {
            System.setProperty(Engines.THREADS_PROPERTY, "3");
            assertThat(Engines.threads(6_560_000L, 2)).isEqualTo(3);
            System.setProperty(Engines.THREADS_PROPERTY, "two");
            assertThatThrownBy(() -> Engines.threads(1, null)).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("-Dmanyfold.onnx.threads").hasMessageContaining("two");
        } finally {
            if (saved == null) {
                System.clearProperty(Engines.THREADS_PROPERTY);
            } else {
                System.setProperty(Engines.THREADS_PROPERTY, saved);
            }
        }
    }

    @Test
    void weightsPerTokenFromExportMetadataEqualTheMemoryFloorsCountForPrunedHeads() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = new LlamaModel(new ParameterStore(m, 3), OrtEngineParityTest.PRUNED);
            model.setExits(List.of(1, 2, 3));
            var meta = OnnxExport.metadata(model, "byte", "here");
            long fromMeta = Engines.weightBytesPerToken(new ObjectMapper().readTree(meta.get(OnnxExport.META_CONFIG)));
            assertThat(fromMeta).isEqualTo(MemoryFloor.weightBytesPerToken(model)).isPositive();
        }
    }
}
