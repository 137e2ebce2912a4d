package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LinearSite;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.data.HostBatch;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 7 through the bundle: a 2:4 AST run with SLoRB and distillation exported as an exact
 * 2:4 checkpoint and as packed 2:4, both reproducing the trained model's logits; Wanda masks
 * from calibration; the teacher from train.init; α refused at its path.
 */
class AstExportTest {
    private static final String MODEL = "model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }\n"
            + "data: { type: text, context: 16, limit: 300 }\n";

    @TempDir
    Path tmp;

    private Manyfold host;

    @BeforeEach
    void loadBundlePlugins() {
        host = Manyfold.builder().pluginDir(Bundle.plugins()).build();
    }

    @AfterEach
    void close() {
        host.close();
    }

    private Run prepare(String recipe) {
        return TrainJob.prepare(host, Recipe.parse(recipe, "ast.yaml"), new PrintWriter(new StringWriter(), true), tmp.resolve("work"));
    }

    private Path train(String name, String recipe) {
        Path run = tmp.resolve(name);
        try (Run p = prepare(recipe)) {
            TrainJob.train(p, run, false, new PrintWriter(new StringWriter(), true), false);
        }
        return run;
    }

    private static float[] logits(Run p, HostBatch batch) {
        try (NDManager m = p.model().parameters().manager().newSubManager()) {
            return p.model().forward(batch.toBatch(m).inputs(), SubModel.FULL).toFloatArray();
        }
    }

    @Test
    void exact24AndPacked24ExportsReproduceTheTrainedOutputsAndPackedIsSmaller() throws Exception {
        Path pre = train("pre", MODEL + "train: { steps: 4, batch: 4, lr: 1e-2, seed: 3 }\n");
        Path run = train("ast", MODEL + "masks: [ { type: nm, every: 2, lambda-max: 1.0e-2 } ]\n"
                + "adapters: [ { type: slorb, k: 4, trainable-projection: true } ]\n"
                + "objective: { type: distill, alpha: 0.5, temperature: 2.0 }\n"
                + "train: { init: " + pre + ", steps: 6, batch: 4, lr: 1e-2, seed: 3 }\n");
        Path exact = tmp.resolve("exact.safetensors");
        Path packed = tmp.resolve("packed.safetensors");
        Path dense = tmp.resolve("dense.safetensors");
        Cli.Result r24 = Cli.run("export", run.toString(), "--format", "2:4", "-o", exact.toString());
        assertThat(r24.exit()).as(r24.describe()).isZero();
        Cli.Result rPacked = Cli.run("export", run.toString(), "--format", "packed-2:4", "-o", packed.toString());
        assertThat(rPacked.exit()).as(rPacked.describe()).isZero();
        Cli.Result rDense = Cli.run("export", run.toString(), "-o", dense.toString());
        assertThat(rDense.exit()).as(rDense.describe()).isZero();
        Claims.report("ast-export", r24.out().strip() + "\n" + rPacked.out().strip() + "\n" + rDense.out().strip()
                + String.format("%nfiles: dense %,d bytes, 2:4 %,d bytes, packed-2:4 %,d bytes", Files.size(dense), Files.size(exact),
                        Files.size(packed)));
        assertThat(rPacked.out()).contains("2:4 weights").contains("(dense").contains("52.34%").contains("bits per weight");
        Cli.Result bad = Cli.run("export", run.toString(), "--format", "packed-2:4", "--sub-model", "depth=1", "-o",
                tmp.resolve("x.safetensors").toString());
        assertThat(bad.exit()).as(bad.describe()).isNotZero();
        // formats other than the host's own come from the loaded plugins; an unknown one lists them all
        Cli.Result unknown = Cli.run("export", run.toString(), "--format", "packed-2:8", "-o", tmp.resolve("y.safetensors").toString());
        assertThat(unknown.exit()).as(unknown.describe()).isEqualTo(2);
        assertThat(unknown.err()).contains("unknown format \"packed-2:8\"").contains("known: dense, hf, peft, onnx, 2:4, packed-2:4")
                .doesNotContain("Exception");

        // the exact 2:4 file: every masked weight has at most 2 nonzeros per group of 4; SLoRB kept as its own tensors
        Checkpoint exactFile = SafeTensors.read(exact);
        int sparse = 0;
        for (Tensor t : exactFile.tensors().values()) {
            if (t.name().startsWith("layers.") && t.shape().length == 2) {
                ByteBuffer b = t.data();
                for (int g = 0; g < t.elementCount() / 4; g++) {
                    int nonzero = 0;
                    for (int k = 0; k < 4; k++) {
                        nonzero += b.getFloat(4 * (4 * g + k)) != 0f ? 1 : 0;
                    }
                    assertThat(nonzero).as("%s group %d", t.name(), g).isLessThanOrEqualTo(2);
                }
                sparse++;
            }
        }
        assertThat(sparse).isEqualTo(14);
        assertThat(exactFile.tensors().keySet()).anyMatch(n -> n.startsWith("adapters.0.") && n.endsWith(".s"))
                .anyMatch(n -> n.startsWith("adapters.0.") && n.endsWith(".x")).noneMatch(n -> n.startsWith("mask."));
        Checkpoint packedRaw = SafeTensors.read(packed);
        assertThat(packedRaw.tensors().keySet()).anyMatch(n -> n.endsWith(".packed24.pattern"));
        // pattern bytes: 3 bits per group of 4
        Tensor q = packedRaw.tensor("layers.0.attn.q_proj.weight.packed24.pattern");
        assertThat(q.byteSize()).isEqualTo((3L * 16 * 16 / 4 + 7) / 8);
        assertThat(Files.size(packed)).isLessThan(Files.size(exact));

        try (Run trained = Claims.load(host, run); Run fromExact = Claims.load(host, exact);
                Run fromPacked = Claims.load(host, packed)) {
            for (HostBatch batch : trained.data().validation(3)) {
                float[] want = logits(trained, batch);
                assertThat(logits(fromExact, batch)).containsExactly(want);
                assertThat(logits(fromPacked, batch)).containsExactly(want);
            }
            for (LinearSite site : fromPacked.model().sites().values()) {
                assertThat(site.mask()).as(site.name()).isNull();
            }
        }

        // train.init reads a packed 2:4 export through the AST plugin's format: a new run starts from the 2:4 weights
        StringWriter log = new StringWriter();
        try (Run fresh = TrainJob.prepare(host, Recipe.parse(MODEL + "train: { init: " + packed + ", steps: 1, seed: 9 }\n",
                "from-packed.yaml"), new PrintWriter(log, true), tmp.resolve("work"))) {
            Checkpoint unpacked = Checkpoint.load(packed, host.extensions()::exportFormat);
            assertThat(log.toString()).contains("initialised ").contains("from " + packed);
            try (NDManager m = NDManager.newBaseManager()) {
                for (String name : List.of("layers.0.attn.q_proj.weight", "layers.1.mlp.down_proj.weight", "embed.weight")) {
                    float[] want = unpacked.tensor(name).toNDArray(m).toFloatArray();
                    assertThat(fresh.model().parameters().get(name).toFloatArray()).as(name).containsExactly(want);
                }
            }
        }
    }

    @Test
    void wandaMasksComeFromCalibrationAndDifferFromMagnitude() {
        String recipe = MODEL + "masks: [ { type: nm, criterion: wanda, calibration-batches: 2, every: 2 } ]\n"
                + "train: { steps: 2, batch: 4, lr: 1e-2, seed: 4 }\n";
        try (Run p = prepare(recipe)) {
            TrainJob.trainer(p, tmp.resolve("run-wanda"), new PrintWriter(new StringWriter()), false).run(null);
            int differ = 0;
            for (LinearSite site : p.model().sites().values()) {
                if (!site.name().startsWith("layers.")) {
                    assertThat(site.mask()).isNull();
                    continue;
                }
                float[] m = site.mask().toFloatArray();
                float[] w = site.weight().toFloatArray();
                boolean same = true;
                for (int g = 0; g < m.length; g += 4) {
                    assertThat(m[g] + m[g + 1] + m[g + 2] + m[g + 3]).isEqualTo(2f);
                    // magnitude's pick of this group
                    for (int j = 0; j < 4; j++) {
                        int rank = 0;
                        for (int k = 0; k < 4; k++) {
                            int c = Float.compare(Math.abs(w[g + k]), Math.abs(w[g + j]));
                            rank += c > 0 || (c == 0 && k < j) ? 1 : 0;
                        }
                        same &= (rank < 2) == (m[g + j] == 1f);
                    }
                }
                differ += same ? 0 : 1;
            }
            assertThat(differ).as("sites whose Wanda mask differs from the magnitude mask").isGreaterThan(0);
        }
    }

    @Test
    void distillBuildsTheTeacherFromTrainInitAndAlphaOutsideZeroOneIsRefusedAtItsPath() {
        Path pre = train("pre-t", MODEL + "train: { steps: 3, batch: 4, lr: 1e-2, seed: 9 }\n");
        String distill = MODEL + "masks: [ { type: nm } ]\nobjective: { type: distill, alpha: 0.7 }\n"
                + "train: { init: " + pre + ", steps: 2, batch: 4, lr: 1e-2, seed: 9 }\n";
        try (Run p = prepare(distill); Run init = Claims.load(host, pre)) {
            Model teacher = (Model) p.model().teacher().orElseThrow();
            for (var e : init.model().parameters().all().entrySet()) {
                assertThat(teacher.parameters().get(e.getKey()).toFloatArray()).as(e.getKey()).containsExactly(e.getValue().toFloatArray());
            }
            assertThat(teacher.parameters().trainable()).isEmpty();
        }
        try (Run p = prepare(MODEL + "train: { steps: 2, batch: 4 }\n")) {
            assertThat(p.model().teacher()).isEmpty();
        }
        for (String alpha : List.of("-0.5", "1.01")) {
            Throwable e = catchThrowable(() -> prepare(MODEL + "objective: { type: distill, alpha: " + alpha + " }\n"
                    + "train: { steps: 2, batch: 4 }\n").close());
            assertThat(e).isInstanceOf(ConfigException.class);
            assertThat(((ConfigException) e).path()).isEqualTo("objective.alpha");
        }
        for (Map.Entry<String, String> bad : Map.of("{ type: nm, n: 4 }", "masks[0].n", "{ type: nm, m: 5 }", "masks[0].m",
                "{ type: nm, every: 0 }", "masks[0].every", "{ type: nm, lambda-max: -1 }", "masks[0].lambda-max").entrySet()) {
            Throwable e = catchThrowable(() -> prepare(MODEL + "masks: [ " + bad.getKey() + " ]\ntrain: { steps: 2, batch: 4 }\n").close());
            assertThat(e).as(bad.getKey()).isInstanceOf(ConfigException.class);
            assertThat(((ConfigException) e).path()).as(bad.getKey()).isEqualTo(bad.getValue());
        }
    }
}
