package dev.manyfold.runtime.train;

import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class ScheduleTest {
    @Test
    void warmupRisesLinearlyFromPeakOverWarmupToThePeak() {
        TrainConfig c = config("steps", 100, "lr", 0.4, "warmup", 8, "schedule", "cosine");

        for (int step = 1; step <= 8; step++) {
            assertThat(Schedule.lr(c, step)).as("step %d", step).isCloseTo(0.4 * step / 8, within(1e-15));
        }
        assertThat(Schedule.lr(c, 8)).isEqualTo(0.4);
    }

    @Test
    void warmupAppliesToTheConstantScheduleToo() {
        TrainConfig c = config("steps", 20, "lr", 0.3, "warmup", 3, "schedule", "constant");

        assertThat(Schedule.lr(c, 1)).isCloseTo(0.1, within(1e-15));
        assertThat(Schedule.lr(c, 2)).isCloseTo(0.2, within(1e-15));
        for (int step = 3; step <= 20; step++) {
            assertThat(Schedule.lr(c, step)).as("step %d", step).isEqualTo(0.3);
        }
    }

    @Test
    void constantScheduleWithoutWarmupStaysAtThePeakForEveryStep() {
        TrainConfig c = config("steps", 50, "lr", 0.02, "schedule", "constant");

        for (int step = 1; step <= 50; step++) {
            assertThat(Schedule.lr(c, step)).isEqualTo(0.02);
        }
    }

    @Test
    void cosineDecaysFromThePeakAfterWarmupToTenPercentOfThePeakAtTheLastStep() {
        TrainConfig c = config("steps", 104, "lr", 2.0, "warmup", 4, "schedule", "cosine");

        assertThat(Schedule.lr(c, 4)).isEqualTo(2.0);
        // halfway through the decay (step 4 + 50): floor + (peak - floor) / 2
        assertThat(Schedule.lr(c, 54)).isCloseTo(0.2 + 1.8 * 0.5, within(1e-12));
        // a quarter of the way: floor + (peak - floor) * (1 + cos(pi/4)) / 2
        assertThat(Schedule.lr(c, 29)).isCloseTo(0.2 + 1.8 * 0.5 * (1 + Math.cos(Math.PI / 4)), within(1e-12));
        assertThat(Schedule.lr(c, 104)).isCloseTo(0.2, within(1e-12));
        double previous = Double.POSITIVE_INFINITY;
        for (int step = 5; step <= 104; step++) {
            double lr = Schedule.lr(c, step);
            assertThat(lr).as("step %d", step).isLessThan(previous).isBetween(0.2 - 1e-12, 2.0);
            previous = lr;
        }
    }

    @Test
    void cosineStaysAtTheFloorPastTheLastStep() {
        TrainConfig c = config("steps", 10, "lr", 1.0, "schedule", "cosine");

        assertThat(Schedule.lr(c, 10)).isCloseTo(0.1, within(1e-12));
        assertThat(Schedule.lr(c, 11)).isCloseTo(0.1, within(1e-12));
        assertThat(Schedule.lr(c, 1000)).isCloseTo(0.1, within(1e-12));
    }

    @Test
    void cosineWithoutWarmupStartsJustBelowThePeak() {
        TrainConfig c = config("steps", 10, "lr", 1.0, "schedule", "cosine");

        assertThat(Schedule.lr(c, 1)).isCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 10)), within(1e-12));
    }

    @Test
    void warmupOverEveryStepNeverReachesTheCosinePart() {
        TrainConfig c = config("steps", 5, "lr", 1.0, "warmup", 5, "schedule", "cosine");

        assertThat(Schedule.lr(c, 5)).isEqualTo(1.0);
        assertThat(Schedule.lr(c, 1)).isCloseTo(0.2, within(1e-15));
    }
}
