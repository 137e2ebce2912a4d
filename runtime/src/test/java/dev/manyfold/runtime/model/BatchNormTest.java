package dev.manyfold.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.data.HostBatch;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Batch normalisation in the CNN: train/eval behaviour, width slicing, recalibration, switchable BN, folding on export. */
class BatchNormTest {
    private static final int IMAGE = 8;

    private static CnnModel model(NDManager m, long seed, int channels, BatchNorm.Settings bn) {
        return new CnnModel(new ParameterStore(m, seed), IMAGE, channels, 2, 4, bn);
    }

    private static HostBatch batch(int seed, int n) {
        Random r = new Random(seed);
        float[] f = new float[n * IMAGE * IMAGE];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) (r.nextGaussian() * 0.7 + 0.3);
        }
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = r.nextInt(4);
        }
        return new HostBatch(f, null, new long[] {n, IMAGE * IMAGE}, labels, new long[] {n});
    }

    /** Puts non-trivial values into every BN tensor, so slicing and folding are tested on more than 1s and 0s. */
    private static void perturb(CnnModel model, long seed) {
        Random r = new Random(seed);
        model.parameters().all().forEach((name, a) -> {
            if (name.contains(".bn")) {
                float[] v = a.toFloatArray();
                for (int i = 0; i < v.length; i++) {
                    v[i] = name.endsWith("running_var") || name.endsWith(".weight") ? 0.5f + r.nextFloat() : (float) r.nextGaussian() * 0.3f;
                }
                model.parameters().assign(name, java.nio.FloatBuffer.wrap(v));
            }
        });
    }

    @Test
    void trainingNormalisesWithTheBatchAndMovesRunningStatisticsWhileEvalUsesThemAndTreatsExamplesIndependently() {
        try (NDManager m = NDManager.newBaseManager()) {
            CnnModel model = model(m, 3, 6, new BatchNorm.Settings(true, List.of(), 0));
            BatchNorm bn = model.batchNorm().orElseThrow();
            NDArray x = m.randomNormal(2f, 3f, new Shape(5, 4, 3, 3), ai.djl.ndarray.types.DataType.FLOAT32);
            float[] rmBefore = model.parameters().get("stem.bn.running_mean").toFloatArray();

            NDArray y = bn.apply("stem", x, 4, BatchNorm.Mode.TRAIN, null, model);
            float[] mean = BatchNorm.channelsFirst(y).mean(new int[] {1}).toFloatArray();
            float[] var = BatchNorm.channelsFirst(y).square().mean(new int[] {1}).toFloatArray();
            for (int c = 0; c < 4; c++) {
                assertThat(mean[c]).isCloseTo(0f, within(1e-5f));
                assertThat(var[c]).isCloseTo(1f, within(1e-3f)); // var/(var+eps)
            }
            NDArray xf = BatchNorm.channelsFirst(x);
            float[] batchMean = xf.mean(new int[] {1}).toFloatArray();
            float[] batchVar = xf.sub(xf.mean(new int[] {1}).reshape(4, 1)).square().sum(new int[] {1}).div(44).toFloatArray();
            float[] rm = model.parameters().get("stem.bn.running_mean").toFloatArray();
            float[] rv = model.parameters().get("stem.bn.running_var").toFloatArray();
            for (int c = 0; c < 4; c++) {
                assertThat(rm[c]).isCloseTo(0.9f * rmBefore[c] + 0.1f * batchMean[c], within(1e-5f));
                assertThat(rv[c]).isCloseTo(0.9f + 0.1f * batchVar[c], within(1e-4f)); // unbiased batch variance
            }
            assertThat(rm[4]).isEqualTo(rmBefore[4]); // outside the width slice: untouched
            assertThat(rv[5]).isEqualTo(1f);

            NDArray e = bn.apply("stem", x, 4, BatchNorm.Mode.EVAL, null, model);
            NDArray expected = x.sub(m.create(java.util.Arrays.copyOf(rm, 4)).reshape(1, 4, 1, 1))
                    .div(m.create(java.util.Arrays.copyOf(rv, 4)).add(BatchNorm.EPS).sqrt().reshape(1, 4, 1, 1));
            assertThat(e.sub(expected).abs().max().getFloat()).isLessThan(1e-5f);

            // Through the model: eval output of one example is the same alone or in a batch; training output is not.
            NDArray images = batch(1, 6).toBatch(m).inputs();
            NDArray first = images.get(new NDIndex("0:1"));
            SubModel sub = SubModel.of(Map.of("width", 4));
            float[] evalAlone = model.forward(first, sub).toFloatArray();
            float[] evalInBatch = model.forward(images, sub).get(new NDIndex("0")).toFloatArray();
            assertThat(evalInBatch).containsExactly(evalAlone, within(1e-5f));
            model.setTraining(true);
            float[] trainInBatch = model.forward(images, sub).get(new NDIndex("0")).toFloatArray();
            model.setTraining(false);
            assertThat(max(diff(trainInBatch, evalInBatch))).isGreaterThan(1e-3f);
        }
    }

    @Test
    void gammaAndBetaAreTrainedParametersWithGradientsInTheWidthSliceWhileRecalibrationChangesNoTensor() {
        try (NDManager m = NDManager.newBaseManager()) {
            CnnModel model = model(m, 5, 6, BatchNorm.Settings.shared(2));
            perturb(model, 6);
            ParameterStore p = model.parameters();
            assertThat(p.trainable()).contains("stem.bn.weight", "stem.bn.bias", "blocks.1.conv.bn.weight", "blocks.1.conv.bn.bias")
                    .doesNotContain("stem.bn.running_mean", "stem.bn.running_var");
            NDArray x = batch(2, 6).toBatch(m).inputs();
            model.setTraining(true);
            try (ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
                gc.backward(ai.djl.training.loss.Loss.softmaxCrossEntropyLoss().evaluate(new NDList(m.create(new int[] {0, 1, 2, 3, 0, 1})),
                        new NDList(model.forward(x, SubModel.of(Map.of("width", 4))))));
            }
            model.setTraining(false);
            for (String name : List.of("stem.bn.weight", "stem.bn.bias", "blocks.0.conv.bn.weight", "blocks.1.conv.bn.bias")) {
                NDArray g = p.get(name).getGradient();
                assertThat(g.get(new NDIndex(":4")).abs().min().getFloat()).as(name + " gradient in the slice").isPositive();
                assertThat(g.get(new NDIndex("4:")).abs().sum().getFloat()).as(name + " gradient outside the slice").isZero();
            }

            // Recalibration runs forwards only: every tensor (weights, γ, β, running statistics) and the weights version stay.
            Map<String, float[]> before = new LinkedHashMap<>();
            p.all().forEach((name, a) -> before.put(name, a.toFloatArray()));
            long version = model.weightsVersion();
            model.useCalibrationData(List.of(batch(3, 5), batch(4, 5))::get);
            model.batchNorm().orElseThrow().recalibrated(4, model);
            model.forward(x, SubModel.of(Map.of("width", 6)));
            assertThat(model.weightsVersion()).isEqualTo(version);
            p.all().forEach((name, a) -> assertThat(a.toFloatArray()).as(name).containsExactly(before.get(name)));
        }
    }

    @Test
    void recalibratedStatisticsEqualTheDirectMeanAndVarianceOverTheCalibrationBatches() {
        try (NDManager m = NDManager.newBaseManager()) {
            CnnModel model = model(m, 4, 6, BatchNorm.Settings.shared(3));
            perturb(model, 9);
            List<HostBatch> batches = List.of(batch(10, 7), batch(11, 5), batch(12, 9));
            model.useCalibrationData(batches::get);
            BatchNorm bn = model.batchNorm().orElseThrow();
            int w = 4;
            Map<String, float[][]> st = bn.recalibrated(w, model);
            assertThat(st).containsOnlyKeys("stem", "blocks.0.conv", "blocks.1.conv");

            // The stem's BN input is conv(x): its mean and biased variance over all 21 images' positions.
            NDList outputs = new NDList();
            LinearSite stem = model.site("stem");
            NDArray kernel = stem.weight().get(new NDIndex(":{}, :", w)).reshape(w, 1, 3, 3);
            for (HostBatch hb : batches) {
                NDArray x = hb.toBatch(m).inputs().reshape(-1, 1, IMAGE, IMAGE);
                outputs.add(Conv2d.conv2d(x, kernel, stem.bias().get(new NDIndex(":{}", w)), new Shape(1, 1), new Shape(1, 1))
                        .singletonOrThrow());
            }
            NDArray all = NDArrays.concat(outputs);
            NDArray flat = BatchNorm.channelsFirst(all);
            float[] mean = flat.mean(new int[] {1}).toFloatArray();
            float[] var = flat.sub(flat.mean(new int[] {1}).reshape(w, 1)).square().mean(new int[] {1}).toFloatArray();
            assertThat(st.get("stem")[0]).containsExactly(mean, within(1e-5f));
            assertThat(st.get("stem")[1]).containsExactly(var, within(1e-4f));

            // Evaluation uses them (not the running statistics), per width, and forgets them when a weight changes.
            assertThat(bn.statistics("stem", w, model)[0]).isEqualTo(st.get("stem")[0]);
            assertThat(bn.recalibrated(6, model).get("blocks.0.conv")[0]).hasSize(6);
            assertThat(java.util.Arrays.copyOf(bn.recalibrated(6, model).get("blocks.0.conv")[0], w))
                    .isNotEqualTo(st.get("blocks.0.conv")[0]); // the wider trunk feeds block 0 other activations
            model.parameters().assign("stem.weight", model.parameters().get("stem.weight").mul(2));
            assertThat(bn.statistics("stem", w, model)[0][0]).isCloseTo(2 * mean[0] - model.parameters().get("stem.bias")
                    .toFloatArray()[0], within(1e-4f));
        }
    }

    @Test
    void aWidthSliceOfSharedBatchNormEqualsAStandaloneNarrowerModelInTrainingAndEval() {
        try (NDManager m = NDManager.newBaseManager()) {
            CnnModel wide = model(m, 5, 6, new BatchNorm.Settings(true, List.of(), 0));
            CnnModel narrow = model(m, 6, 3, new BatchNorm.Settings(true, List.of(), 0));
            perturb(wide, 2);
            copyPrefix(wide, narrow, 3);
            NDArray x = batch(20, 6).toBatch(m).inputs();
            SubModel sub = SubModel.of(Map.of("width", 3));
            assertThat(narrow.forward(x, SubModel.FULL).toFloatArray()).containsExactly(wide.forward(x, sub).toFloatArray(), within(1e-5f));
            wide.setTraining(true);
            narrow.setTraining(true);
            float[] a = wide.forward(x, sub).toFloatArray();
            float[] b = narrow.forward(x, SubModel.FULL).toFloatArray();
            assertThat(b).containsExactly(a, within(1e-5f));
            assertThat(narrow.parameters().get("blocks.1.conv.bn.running_var").toFloatArray()).containsExactly(
                    java.util.Arrays.copyOf(wide.parameters().get("blocks.1.conv.bn.running_var").toFloatArray(), 3), within(1e-6f));
        }
    }

    private static void copyPrefix(CnnModel from, CnnModel to, int w) {
        to.parameters().all().forEach((name, target) -> {
            NDArray src = from.parameters().get(name);
            long[] s = target.getShape().getShape();
            NDArray slice = s.length == 1 ? src.get(new NDIndex(":{}", s[0])) : src.get(new NDIndex(":{}, :{}", s[0], s[1]));
            to.parameters().assign(name, slice);
        });
    }

    @Test
    void exportFoldsBatchNormIntoTheConvolutionsSoThePlainSubModelPredictsTheSame() {
        try (NDManager m = NDManager.newBaseManager()) {
            for (BatchNorm.Settings settings : List.of(BatchNorm.Settings.shared(2), BatchNorm.Settings.switchable(List.of(2, 4, 6)))) {
                CnnModel model = model(m, 7, 6, settings);
                perturb(model, 3);
                List<HostBatch> batches = List.of(batch(30, 8), batch(31, 8));
                model.useCalibrationData(batches::get);
                SubModel sub = SubModel.of(Map.of("width", 4, "depth", 1));
                Model.Exported exported = model.export(sub, m);
                assertThat(exported.config()).doesNotContainKeys("batch-norm", "switchable-bn", "bn-recalibrate");
                assertThat(exported.tensors().keySet()).noneMatch(n -> n.contains(".bn"));
                Model plain = ModelFactory.fromConfig(exported.config(), 1, m);
                assertThat(plain.hasBatchNorm()).isFalse();
                exported.tensors().forEach((n, a) -> plain.parameters().assign(n, a));
                NDArray x = batch(32, 5).toBatch(m).inputs();
                assertThat(plain.forward(x, SubModel.FULL).toFloatArray()).as(settings.toString())
                        .containsExactly(model.forward(x, sub).toFloatArray(), within(1e-4f));
            }
        }
    }

    @Test
    void switchableBatchNormKeepsPrivateStatisticsPerWidthAndRefusesOtherWidths() {
        try (NDManager m = NDManager.newBaseManager()) {
            CnnModel model = model(m, 8, 6, BatchNorm.Settings.switchable(List.of(2, 4, 6)));
            assertThat(model.parameters().get("stem.bn.w2.running_mean").getShape()).isEqualTo(new Shape(2));
            assertThat(model.parameters().trainable()).contains("stem.bn.w4.weight").doesNotContain("stem.bn.w4.running_mean");
            NDArray x = batch(40, 4).toBatch(m).inputs();
            model.setTraining(true);
            model.forward(x, SubModel.of(Map.of("width", 4)));
            model.setTraining(false);
            assertThat(model.parameters().get("stem.bn.w4.running_mean").toFloatArray()).isNotEqualTo(new float[4]);
            assertThat(model.parameters().get("stem.bn.w2.running_mean").toFloatArray()).containsOnly(0f);
            assertThat(model.parameters().get("stem.bn.w6.running_mean").toFloatArray()).containsOnly(0f);
            assertThatThrownBy(() -> model.check(SubModel.of(Map.of("width", 3)), "eval.sub-model")).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("eval.sub-model").hasMessageContaining("width 3 has no batch normalisation of its own")
                    .hasMessageContaining("[2, 4, 6]");
        }
    }

    @Test
    void modelSettingsAreCheckedWithTheirRecipePathsAndStoredInTheConfiguration() {
        try (NDManager m = NDManager.newBaseManager()) {
            ModelFactory.DataShape data = ModelFactory.DataShape.vision(64, 4);
            Map<String, Object> ok = new LinkedHashMap<>(Map.of("family", "cnn", "channels", 8, "batch-norm", true));
            Model model = ModelFactory.build(Settings.of("model", ok), data, 1, m);
            assertThat(model.config()).containsEntry("batch-norm", true).containsEntry("bn-recalibrate", 20);
            assertThat(ModelFactory.fromConfig(model.config(), 1, m).parameters().all().keySet())
                    .isEqualTo(model.parameters().all().keySet());
            assertThat(ModelFactory.build(Settings.of("model", Map.of("family", "cnn", "channels", 8)), data, 1, m).config())
                    .doesNotContainKey("batch-norm");
            assertThatThrownBy(() -> ModelFactory.build(Settings.of("model", Map.of("family", "cnn", "switchable-bn", List.of(8, 32))), data,
                    1, m)).hasMessageContaining("model.switchable-bn").hasMessageContaining("without batch normalisation");
            assertThatThrownBy(() -> ModelFactory.build(Settings.of("model", Map.of("family", "cnn", "channels", 8, "batch-norm", true,
                    "switchable-bn", List.of(2, 4))), data, 1, m)).hasMessageContaining("model.switchable-bn")
                    .hasMessageContaining("the full width 8 has no BN of its own");
        }
    }

    private static float[] diff(float[] a, float[] b) {
        float[] d = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = Math.abs(a[i] - b[i]);
        }
        return d;
    }

    private static float max(float[] v) {
        float mx = 0;
        for (float x : v) {
            mx = Math.max(mx, x);
        }
        return mx;
    }
}
