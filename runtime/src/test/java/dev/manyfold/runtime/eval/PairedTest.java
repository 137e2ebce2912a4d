package dev.manyfold.runtime.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class PairedTest {
    @Test
    void meanStandardErrorAndTIntervalMatchAHandComputation() {
        // differences 1, 2, 3: mean 2, sd 1, se 1/sqrt(3), t(2) = 4.303: the interval [-0.48, 4.48] holds zero
        Paired wide = Paired.of(new double[] {11, 12, 13}, new double[] {10, 10, 10});
        assertThat(wide.n()).isEqualTo(3);
        assertThat(wide.mean()).isCloseTo(2, within(1e-12));
        assertThat(wide.standardError()).isCloseTo(1 / Math.sqrt(3), within(1e-12));
        assertThat(wide.low()).isCloseTo(2 - 4.303 / Math.sqrt(3), within(1e-9));
        assertThat(wide.high()).isCloseTo(2 + 4.303 / Math.sqrt(3), within(1e-9));
        assertThat(wide.inconclusive()).isTrue();
        // differences 1.9, 2, 2.1: se 0.1/sqrt(3), interval [1.75, 2.25]
        Paired tight = Paired.of(new double[] {11.9, 12, 12.1}, new double[] {10, 10, 10});
        assertThat(tight.low()).isCloseTo(2 - 0.4303 / Math.sqrt(3), within(1e-9));
        assertThat(tight.above()).isTrue();
        assertThat(tight.below()).isFalse();
    }

    @Test
    void anOrderingIsClaimedOnlyWhenTheIntervalExcludesZero() {
        Paired noisy = Paired.ofDifferences(0.03, -0.01, 0.02);
        assertThat(noisy.mean()).isPositive();
        assertThat(noisy.inconclusive()).isTrue();
        assertThat(Paired.ofDifferences(-0.03, -0.02, -0.025).below()).isTrue();
        assertThat(Paired.ofDifferences(0.5).inconclusive()).as("one seed claims nothing").isTrue();
        assertThat(Paired.ofDifferences(0.5).standardError()).isNaN();
    }

    @Test
    void theBootstrapIntervalIsSeededAndBracketsTheMean() {
        Paired p = Paired.ofDifferences(0.1, 0.3, 0.2, 0.4, 0.0, 0.25);
        double[] a = p.bootstrap(0.95, 2000, 7);
        assertThat(p.bootstrap(0.95, 2000, 7)).containsExactly(a);
        assertThat(a[0]).isLessThan(p.mean()).isGreaterThanOrEqualTo(0.0);
        assertThat(a[1]).isGreaterThan(p.mean()).isLessThanOrEqualTo(0.4);
    }

    @Test
    void describeStatesMeanErrorIntervalAndSeedCount() {
        assertThat(Paired.ofDifferences(0.01, 0.02, 0.03).describe(100, 2)).isEqualTo("+2.00 ± 0.58 (95% CI [-0.48, +4.48], n=3)");
    }

    @Test
    void mismatchedOrNonFinitePairsAreRefusedByName() {
        assertThatThrownBy(() -> Paired.of(new double[] {1, 2}, new double[] {1})).hasMessageContaining("same non-zero length");
        assertThatThrownBy(() -> Paired.of(new double[] {Double.NaN}, new double[] {1})).hasMessageContaining("pair 0");
    }
}
