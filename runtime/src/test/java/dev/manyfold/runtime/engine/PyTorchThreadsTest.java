package dev.manyfold.runtime.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.manyfold.runtime.onnx.Engines;
import org.junit.jupiter.api.Test;

/** {@link Engines#pytorchDecodeThreads} and {@link Engines#pytorchTrainingThreads}: PyTorch's intra-op threads follow ONNX Runtime's size rule. */
class PyTorchThreadsTest {
    @Test
    void aSmallModelDecodesAndTrainsOnOneThreadAndALargeOneOnTwoAndTheNoteSaysWhy() {
        Engine.getEngine(PyTorchEngine.NAME); // loads libtorch
        int before = JniUtils.getNumThreads();
        if (System.getProperty(PyTorchEngine.THREADS_PROPERTY) != null || System.getenv("OMP_NUM_THREADS") != null) {
            // Fixed from outside: kept, and the note names what fixed it.
            assertThat(Engines.pytorchDecodeThreads(6_560_000L)).isEqualTo(before + " intra-op thread" + (before == 1 ? "" : "s") + " ("
                    + (System.getProperty(PyTorchEngine.THREADS_PROPERTY) != null ? "-D" + PyTorchEngine.THREADS_PROPERTY : "OMP_NUM_THREADS") + ")");
            assertThat(JniUtils.getNumThreads()).isEqualTo(before);
            return;
        }
        try {
            String small = Engines.pytorchDecodeThreads(6_560_000L);
            assertThat(JniUtils.getNumThreads()).isEqualTo(1);
            assertThat(small).isEqualTo("1 intra-op thread (default for decoding 6.6 MB of F32 weights per token, at most 33.6 MB)");
            assertThat(PyTorchEngine.threadsNote()).isEqualTo(small);

            String large = Engines.pytorchDecodeThreads(378_600_000L);
            int expected = Engines.defaultThreads(378_600_000L, Runtime.getRuntime().availableProcessors());
            assertThat(expected).isEqualTo(Math.min(2, Runtime.getRuntime().availableProcessors()));
            assertThat(JniUtils.getNumThreads()).isEqualTo(expected);
            assertThat(large).startsWith(expected + " intra-op thread").endsWith("(default for decoding 378.6 MB of F32 weights per token, above 33.6 MB)");

            // Training: the same rule over the model's F32 parameters.
            assertThat(Engines.pytorchTrainingThreads(1_900_000L)).isEqualTo("1 intra-op thread (default for training 1.9 MB of F32 weights, at most 33.6 MB)");
            assertThat(JniUtils.getNumThreads()).isEqualTo(1);
            assertThat(Engines.pytorchTrainingThreads(400_000_000L)).startsWith(expected + " intra-op thread")
                    .endsWith("(default for training 400.0 MB of F32 weights, above 33.6 MB)");
            assertThat(JniUtils.getNumThreads()).isEqualTo(expected);
        } finally {
            JniUtils.setNumThreads(before);
        }
    }
}
