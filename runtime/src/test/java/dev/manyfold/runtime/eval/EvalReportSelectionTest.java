package dev.manyfold.runtime.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.eval.EvalReport.Task;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class EvalReportSelectionTest {
    private static final EvalRow FULL = new EvalRow(SubModel.FULL, 1000, 10_000, 0.40, 0.90);
    private static final EvalRow DEPTH1 = new EvalRow(SubModel.of("depth", 1), 400, 4_000, 0.45, 0.86);
    private static final EvalRow WIDTH8 = new EvalRow(SubModel.of("width", 8), 450, 3_000, 0.47, 0.86);
    private static final EvalRow WIDTH12 = new EvalRow(SubModel.of("width", 12), 500, 3_000, 0.44, 0.86);
    private static final EvalRow SMALLEST = new EvalRow(SubModel.of(Map.of("depth", 1, "width", 8)), 200, 1_000, 0.90, 0.70);

    private static EvalReport vision(List<EvalRow> rows) {
        return EvalReport.of(Task.CLASSIFICATION, rows);
    }

    private static final EvalReport VISION = vision(List.of(FULL, DEPTH1, WIDTH8, WIDTH12, SMALLEST));

    @Test
    void bestWithinABudgetIsTheMostAccurateSubModelThatFits() {
        assertThat(VISION.bestWithin(10_000)).contains(FULL);
        assertThat(VISION.bestWithin(2_999)).contains(SMALLEST);
        assertThat(VISION.bestWithin(1_000)).contains(SMALLEST);
    }

    @Test
    void accuracyTiesGoToFewerFlopsThenFewerParameters() {
        // depth=1 (4000 FLOPs), width=8 (3000, 450 params) and width=12 (3000, 500 params) all reach 86%.
        assertThat(VISION.bestWithin(9_999)).contains(WIDTH8);
        assertThat(VISION.bestWithin(4_000)).contains(WIDTH8);
    }

    @Test
    void selectionDoesNotDependOnRowOrder() {
        Random random = new Random(11);
        for (int i = 0; i < 20; i++) {
            List<EvalRow> rows = new ArrayList<>(VISION.rows());
            Collections.shuffle(rows, random);
            EvalReport shuffled = vision(rows);
            assertThat(shuffled.bestWithin(9_999)).contains(WIDTH8);
            assertThat(shuffled.withinThreshold(95)).containsExactly(WIDTH8, WIDTH12, DEPTH1, FULL);
        }
    }

    @Test
    void nothingFitsBelowTheCheapestSubModelAndTheOutputSaysSo() {
        assertThat(VISION.bestWithin(999)).isEmpty();
        StringWriter text = new StringWriter();
        VISION.printBestWithin(new PrintWriter(text, true), 999);
        assertThat(text.toString()).contains("no sub-model fits within 999 FLOPs/example").contains("depth=1,width=8, needs 1,000");
    }

    @Test
    void languageModelSelectionPicksTheLowestLossWithTiesToFewerFlops() {
        EvalRow full = new EvalRow(SubModel.FULL, 900, 9_000, 2.00, 0.40);
        EvalRow a = new EvalRow(SubModel.of("depth", 3), 700, 7_000, 2.10, 0.42);
        EvalRow b = new EvalRow(SubModel.of("depth", 2), 500, 5_000, 2.10, 0.30);
        EvalRow c = new EvalRow(SubModel.of("depth", 1), 300, 3_000, 2.60, 0.45);
        EvalReport report = EvalReport.of(Task.LANGUAGE_MODEL, List.of(full, a, b, c));
        assertThat(report.bestWithin(9_000)).contains(full);
        assertThat(report.bestWithin(8_999)).contains(b);
        assertThat(report.bestWithin(4_999)).contains(c);
    }

    @Test
    void thresholdKeepsSubModelsWithEnoughOfTheFullAccuracyCheapestFirst() {
        // 95% of 0.90 = 0.855: the 86% sub-models qualify, the 70% one does not.
        assertThat(VISION.withinThreshold(95)).containsExactly(WIDTH8, WIDTH12, DEPTH1, FULL);
        assertThat(VISION.withinThreshold(100)).containsExactly(FULL);
        assertThat(VISION.withinThreshold(0)).hasSize(5);
    }

    @Test
    void thresholdBoundIsInclusive() {
        EvalRow full = new EvalRow(SubModel.FULL, 10, 100, 0.5, 0.80);
        EvalRow atBound = new EvalRow(SubModel.of("depth", 2), 8, 80, 0.6, 0.76);
        EvalRow below = new EvalRow(SubModel.of("depth", 1), 6, 60, 0.6, 0.7599);
        EvalReport report = vision(List.of(full, atBound, below));
        assertThat(report.withinThreshold(95)).containsExactly(atBound, full);
    }

    @Test
    void nothingQualifiesAboveWhatAnySubModelReachesAndTheOutputSaysSo() {
        assertThat(VISION.withinThreshold(101)).isEmpty();
        StringWriter text = new StringWriter();
        VISION.printThreshold(new PrintWriter(text, true), 101);
        assertThat(text.toString()).startsWith("no sub-model qualifies for threshold 101%");
    }

    @Test
    void languageModelThresholdAdmitsThatMuchMoreLossThanTheFullModel() {
        EvalRow full = new EvalRow(SubModel.FULL, 900, 9_000, 2.0, 0.4);
        EvalRow better = new EvalRow(SubModel.of("depth", 3), 700, 7_000, 1.9, 0.4);
        EvalRow atBound = new EvalRow(SubModel.of("depth", 2), 500, 5_000, 2.2, 0.3);
        EvalRow over = new EvalRow(SubModel.of("depth", 1), 300, 3_000, 2.2001, 0.3);
        EvalReport report = EvalReport.of(Task.LANGUAGE_MODEL, List.of(full, better, atBound, over));
        // P = 90: loss <= 2.0 x (1 + 10/100) = 2.2
        assertThat(report.withinThreshold(90)).containsExactly(atBound, better, full);
        assertThat(report.withinThreshold(100)).containsExactly(better, full);
        assertThat(report.thresholdRule(90)).contains("= 2.2000");
    }

    @Test
    void percentOfFullIsAccuracyRatioForVisionAndLossRatioForText() {
        assertThat(VISION.percentOfFull(SMALLEST)).isCloseTo(100 * 0.70 / 0.90, Offset.offset(1e-9));
        EvalRow full = new EvalRow(SubModel.FULL, 900, 9_000, 2.0, 0.4);
        EvalRow worse = new EvalRow(SubModel.of("depth", 1), 300, 3_000, 2.5, 0.3);
        EvalReport text = EvalReport.of(Task.LANGUAGE_MODEL, List.of(full, worse));
        assertThat(text.percentOfFull(worse)).isCloseTo(80.0, Offset.offset(1e-9));
        assertThat(worse.perplexity()).isCloseTo(Math.exp(2.5), Offset.offset(1e-12));
    }

    @Test
    void withoutAFullRowTheMostExpensiveRowIsTheReference() {
        EvalReport report = vision(List.of(DEPTH1, WIDTH8, SMALLEST));
        assertThat(report.full()).isEqualTo(DEPTH1);
    }

    @Test
    void duplicateSubModelsAreRefused() {
        assertThatThrownBy(() -> vision(List.of(FULL, DEPTH1, DEPTH1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("depth=1 appears twice");
    }

    @Test
    void flopsBudgetsAcceptPlainScientificAndSiForms() {
        assertThat(EvalReport.parseFlops("1500000")).isEqualTo(1_500_000);
        assertThat(EvalReport.parseFlops("1_500_000")).isEqualTo(1_500_000);
        assertThat(EvalReport.parseFlops("1,500,000")).isEqualTo(1_500_000);
        assertThat(EvalReport.parseFlops("1.5e6")).isEqualTo(1_500_000);
        assertThat(EvalReport.parseFlops("1.5M")).isEqualTo(1_500_000);
        assertThat(EvalReport.parseFlops("750k")).isEqualTo(750_000);
        assertThat(EvalReport.parseFlops("2G")).isEqualTo(2_000_000_000L);
        assertThatThrownBy(() -> EvalReport.parseFlops("lots")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a FLOPs budget");
        assertThatThrownBy(() -> EvalReport.parseFlops("-5")).isInstanceOf(IllegalArgumentException.class);
    }
}
