package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.model.Model;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProgressTest {
    @TempDir
    Path dir;

    private final StringWriter text = new StringWriter();

    private Progress progress(boolean terminal, long total, int logEvery) {
        return new Progress(new PrintWriter(text), terminal, total, logEvery, "examples");
    }

    @Test
    void plainModePrintsOneLineEveryLogEveryStepsAndAtTheLastStep() {
        Progress p = progress(false, 10, 4);
        p.start(0);
        for (int step = 1; step <= 10; step++) {
            p.step(step, 1.0 / step, 0.001, 32);
        }

        String[] lines = text.toString().split("\n");
        assertThat(lines).hasSize(3);
        assertThat(lines[0]).startsWith("step 4/10 loss 0.2500 lr 1.00e-03 ").containsPattern(" \\d+ examples/s ETA \\d+m\\d\\ds$");
        assertThat(lines[1]).startsWith("step 8/10 loss 0.1250 ");
        assertThat(lines[2]).startsWith("step 10/10 loss 0.1000 ");
        assertThat(text.toString()).doesNotContain("\r").doesNotContain("[");
    }

    @Test
    void terminalModeRedrawsABarWithLossThroughputAndEta() throws InterruptedException {
        Progress p = progress(true, 10, 4);
        p.start(0);
        Thread.sleep(20);
        p.step(5, 0.123456, 0.001, 100);

        Matcher m = Pattern.compile("\r\\[(#*)(\\.*)\\] 5/10 loss 0\\.1235  (\\d+) examples/s  ETA (\\d+m\\d\\ds) ").matcher(text.toString());
        assertThat(m.matches()).as("bar: %s", text).isTrue();
        assertThat(m.group(1)).hasSize(14);
        assertThat(m.group(2)).hasSize(14);
        // 500 examples in at least 20 ms
        assertThat(Long.parseLong(m.group(3))).isPositive().isLessThanOrEqualTo(25_000);
        assertThat(m.group(4)).isEqualTo("0m00s");
    }

    @Test
    void terminalModeDrawsEveryStepAndFillsTheBarAtTheEnd() {
        Progress p = progress(true, 3, 100);
        p.start(0);
        for (int step = 1; step <= 3; step++) {
            p.step(step, 0.5, 0.001, 1);
        }

        String[] frames = text.toString().split("\r", -1);
        assertThat(frames).hasSize(4);
        assertThat(frames[0]).isEmpty();
        assertThat(frames[1]).startsWith("[#########...................] 1/3 ");
        assertThat(frames[3]).startsWith("[" + "#".repeat(28) + "] 3/3 ");
        assertThat(text.toString()).doesNotContain("\n");
    }

    @Test
    void aLineAfterTheBarStartsOnAFreshLine() {
        Progress p = progress(true, 3, 1);
        p.start(0);
        p.line("before any bar");
        p.step(1, 0.5, 0.001, 1);
        p.line("eval step 1");
        p.line("another");

        assertThat(text.toString()).startsWith("before any bar\n\r[").endsWith("ETA 0m00s \neval step 1\nanother\n");
    }

    @Test
    void etaExtrapolatesTheTimePerStepSinceStartToTheRemainingSteps() throws InterruptedException {
        Progress p = progress(false, 1001, 1);
        p.start(0);
        Thread.sleep(100);
        p.step(1, 1, 0.001, 1);

        // >= 100 ms per step for the 1000 remaining steps: at least 1m40s
        Matcher m = Pattern.compile("ETA (\\d+)m(\\d\\d)s").matcher(text.toString());
        assertThat(m.find()).isTrue();
        assertThat(Integer.parseInt(m.group(1)) * 60 + Integer.parseInt(m.group(2))).isGreaterThanOrEqualTo(100);
    }

    @Test
    void throughputAndEtaCountOnlyTheStepsSinceAResume() throws InterruptedException {
        Progress p = progress(false, 1000, 1);
        p.start(900);
        Thread.sleep(50);
        p.step(901, 1, 0.001, 10);

        // one step of 10 examples in >= 50 ms, not 901 steps: at most 200 examples/s
        Matcher m = Pattern.compile(" (\\d+) examples/s").matcher(text.toString());
        assertThat(m.find()).isTrue();
        assertThat(Long.parseLong(m.group(1))).isBetween(1L, 200L);
    }

    @Test
    void durationsUseMinutesAndSecondsThenHoursAndMinutes() {
        assertThat(Progress.duration(0)).isEqualTo("0m00s");
        assertThat(Progress.duration(59.6)).isEqualTo("1m00s");
        assertThat(Progress.duration(3599)).isEqualTo("59m59s");
        assertThat(Progress.duration(3725)).isEqualTo("1h02m");
        assertThat(Progress.duration(100 * 3600 + 60)).isEqualTo("100h01m");
    }

    @Test
    void aTrainingRunLogsPlainLinesAndTheFinalEvaluation() {
        TrainConfig c = config("steps", 5, "batch", 4, "log-every", 2);
        TrainingData data = new TrainingFixtures.Classification(4, c.batch());
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 4, manager);
            new Trainer(model, data, TrainingFixtures.fullModelCrossEntropy(), c, List.of(), List.of(SubModel.FULL), dir,
                    new Progress(new PrintWriter(text), false, c.steps(), c.logEvery(), "examples"), Map.of()).run(null);
        }

        String[] lines = text.toString().split("\n");
        assertThat(lines).hasSize(4);
        assertThat(lines[0]).startsWith("step 2/5 loss ");
        assertThat(lines[1]).startsWith("step 4/5 loss ");
        assertThat(lines[2]).startsWith("step 5/5 loss ");
        assertThat(lines[3]).matches("eval step 5: full loss \\d+\\.\\d{4} accuracy \\d+\\.\\d\\d%");
    }
}
