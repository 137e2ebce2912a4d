package dev.manyfold.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.data.ClassificationData;
import dev.manyfold.runtime.data.FashionMnist;
import dev.manyfold.runtime.model.CnnModel;
import dev.manyfold.runtime.model.MlpModel;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.ParameterStore;
import java.nio.FloatBuffer;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** MLP and CNN sub-model exports predict on ONNX Runtime what the model predicts on DJL, on the whole Fashion-MNIST test set. */
class ClassifierExportTest {
    @Test
    void mlpSubModelExportPredictsLikeTheModelOnTheWholeTestSet() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Model mlp = new MlpModel(new ParameterStore(m, 7), 784, 64, 3, 10);
            compare(mlp, SubModel.of(Map.of("depth", 2, "width", 48)), m);
        }
    }

    @Test
    void cnnSubModelExportPredictsLikeTheModelOnTheWholeTestSet() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Model cnn = new CnnModel(new ParameterStore(m, 7), 28, 8, 2, 10);
            compare(cnn, SubModel.of(Map.of("depth", 1, "width", 6)), m);
        }
    }

    @Test
    void batchNormCnnSubModelExportsWithBatchNormFoldedIntoTheConvolutions() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            CnnModel cnn = new CnnModel(new ParameterStore(m, 7), 28, 8, 2, 10,
                    new dev.manyfold.runtime.model.BatchNorm.Settings(true, java.util.List.of(), 0));
            java.util.Random r = new java.util.Random(3);
            cnn.parameters().all().forEach((name, a) -> {
                if (name.contains(".bn.")) {
                    float[] v = a.toFloatArray();
                    for (int i = 0; i < v.length; i++) {
                        v[i] = name.endsWith("running_var") || name.endsWith(".weight") ? 0.5f + r.nextFloat() : 0.2f * (float) r.nextGaussian();
                    }
                    cnn.parameters().assign(name, FloatBuffer.wrap(v));
                }
            });
            compare(cnn, SubModel.of(Map.of("depth", 1, "width", 6)), m);
        }
    }

    private static void compare(Model model, SubModel sub, NDManager m) throws Exception {
        ClassificationData test = FashionMnist.load(FashionMnist.Part.TEST);
        assertThat(test.size()).isEqualTo(10_000);
        byte[] onnx = ClassifierGraphs.build(model, sub, "test");
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        int features = test.featureCount();
        int batch = 1000;
        int agree = 0;
        float maxDiff = 0;
        try (OrtSession.SessionOptions o = OrtLanguageModel.options(1); OrtSession session = env.createSession(onnx, o)) {
            assertThat(session.getMetadata().getCustomMetadata()).containsEntry(OnnxExport.META_SUB_MODEL, sub.toString());
            for (int start = 0; start < test.size(); start += batch) {
                float[] x = java.util.Arrays.copyOfRange(test.features(), start * features, (start + batch) * features);
                float[] expected;
                try (NDManager s = m.newSubManager()) {
                    NDArray logits = model.forward(s.create(x, new Shape(batch, features)), sub);
                    expected = logits.toFloatArray();
                }
                float[] actual;
                try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {batch, features});
                        OrtSession.Result r = session.run(Map.of("input", in))) {
                    FloatBuffer b = ((OnnxTensor) r.get("logits").orElseThrow()).getFloatBuffer();
                    actual = new float[b.remaining()];
                    b.get(actual);
                }
                for (int i = 0; i < batch; i++) {
                    agree += argmax(expected, i) == argmax(actual, i) ? 1 : 0;
                }
                for (int i = 0; i < expected.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
                }
            }
        }
        assertThat(maxDiff).as("max |DJL - ORT| logit").isLessThan(1e-3f);
        assertThat(agree).as("predictions equal on the test set").isEqualTo(test.size());
    }

    private static int argmax(float[] logits, int row) {
        int best = 0;
        for (int c = 1; c < 10; c++) {
            if (logits[row * 10 + c] > logits[row * 10 + best]) {
                best = c;
            }
        }
        return best;
    }
}
