package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import dev.manyfold.runtime.data.HostBatch;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.model.LinearSite;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.Ops;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Calibration for activation-aware masks (Wanda): runs training micro-batches through the
 * full model without gradients while the chosen sites record their inputs, and returns
 * {@code ‖X_j‖₂} per site and input feature.
 *
 * <p>At a mask update of step {@code t}, calibration batch {@code i} is the training
 * micro-batch with flat index {@code t·accumulate + i}: the batches the next steps train
 * on. They are a pure function of the seed, so a resumed run calibrates on the same data.
 */
final class Calibration {
    private Calibration() {}

    static Map<String, float[]> inputNorms(Model model, List<String> sites, TrainingData data, TrainConfig config, long step,
            int batches) {
        Map<String, float[]> norms = new LinkedHashMap<>();
        NDManager root = model.parameters().manager();
        for (String s : sites) {
            model.site(s).startRecording();
        }
        try {
            for (int i = 0; i < batches; i++) {
                long flat = step * config.accumulate() + i;
                HostBatch hb = data.train(flat / config.accumulate() + 1, (int) (flat % config.accumulate()));
                try (NDManager scope = root.newSubManager()) {
                    Ops.withoutAutograd(scope, () -> model.forward(hb.toBatch(scope).inputs(), SubModel.FULL));
                }
            }
        } finally {
            for (String s : sites) {
                LinearSite site = model.site(s);
                norms.put(s, site.stopRecording());
            }
        }
        return norms;
    }
}
