package dev.manyfold.runtime.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.SubModel;
import java.awt.image.BufferedImage;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Several methods' lattices on one plot: one coloured curve per report, and only reports of one task. */
class EvalPlotCurvesTest {
    private static EvalReport report(EvalReport.Task task, double offset) {
        return EvalReport.of(task, List.of(new EvalRow(SubModel.of(Map.of("width", 4)), 10, 1_000, 2.0, 0.2 + offset),
                new EvalRow(SubModel.of(Map.of("width", 8)), 20, 4_000, 1.5, 0.5 + offset),
                new EvalRow(SubModel.FULL, 40, 16_000, 1.0, 0.7 + offset)));
    }

    private static int count(BufferedImage image, int rgb) {
        int n = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                n += (image.getRGB(x, y) & 0xFFFFFF) == rgb ? 1 : 0;
            }
        }
        return n;
    }

    @Test
    void eachReportIsDrawnAsACurveInItsOwnColourAndMixedTasksAreRefused() {
        Map<String, EvalReport> curves = new LinkedHashMap<>();
        curves.put("a", report(EvalReport.Task.CLASSIFICATION, 0));
        curves.put("b", report(EvalReport.Task.CLASSIFICATION, 0.1));
        BufferedImage image = EvalPlot.renderCurves(curves, 640, 480);
        assertThat(image.getWidth()).isEqualTo(640);
        assertThat(count(image, 0x1F77B4)).as("first curve (blue)").isGreaterThan(100);
        assertThat(count(image, 0xD62728)).as("second curve (red)").isGreaterThan(100);
        assertThat(count(image, 0x2CA02C)).as("no third curve").isZero();

        curves.put("c", report(EvalReport.Task.LANGUAGE_MODEL, 0));
        assertThatThrownBy(() -> EvalPlot.renderCurves(curves, 640, 480)).hasMessageContaining("curves of different tasks");
        assertThatThrownBy(() -> EvalPlot.renderCurves(Map.of(), 640, 480)).hasMessageContaining("1 to 6 reports");
    }
}
