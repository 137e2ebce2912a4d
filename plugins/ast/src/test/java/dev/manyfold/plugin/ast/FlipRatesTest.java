package dev.manyfold.plugin.ast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.manyfold.api.Settings;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FlipRatesTest {
    @TempDir
    Path work;

    @Test
    void flipRatesOfHandMadeMasks() {
        boolean[] initial = Fakes.bits(1, 1, 0, 0, 1, 0, 1, 0);
        boolean[] previous = Fakes.bits(1, 0, 1, 0, 1, 0, 1, 0);
        boolean[] current = Fakes.bits(0, 1, 1, 0, 1, 0, 0, 1);
        FlipRates r = FlipRates.of(current, previous, initial);
        assertThat(r.changed()).isEqualTo(4); // positions 0, 1, 6, 7
        assertThat(r.fromInitial()).isEqualTo(4); // positions 0, 2, 6, 7
        assertThat(r.revived()).isEqualTo(2); // pruned at init, kept now: 2 and 7
        assertThat(r.flipRate()).isEqualTo(0.5);
        assertThat(r.initialFlipRate()).isEqualTo(0.5);
        assertThat(r.revivedRate()).isEqualTo(0.25);
        FlipRates same = FlipRates.of(initial, initial, initial);
        assertThat(same.flipRate()).isZero();
        assertThat(same.initialFlipRate()).isZero();
        FlipRates sum = r.plus(same);
        assertThat(sum.entries()).isEqualTo(16);
        assertThat(sum.flipRate()).isEqualTo(0.25);
        assertThat(sum.revivedRate()).isEqualTo(0.125);
    }

    private NmMaskStrategy strategy(Map<String, ?> section) {
        NmMaskStrategyFactory factory = new NmMaskStrategyFactory();
        Settings settings = Settings.of("masks[0]", section);
        NmMaskStrategy s = (NmMaskStrategy) factory.create(settings, Fakes.context(Fakes.shape(Map.of(
                "layers.0.a", new int[] {1, 4}, "layers.0.b", new int[] {1, 8})), work));
        settings.rejectUnknown();
        return s;
    }

    @Test
    void eachUpdateAppendsOneRowAggregatedOverSitesAndDrawsThePlot() throws Exception {
        NmMaskStrategy s = strategy(Map.of("every", 10));
        // step 0: a keeps {0,1}; b keeps {0,1} and {4,5}
        s.update("layers.0.a", new float[] {4, 3, 2, 1}, 1, 4, 0);
        s.update("layers.0.b", new float[] {4, 3, 2, 1, 4, 3, 2, 1}, 1, 8, 0);
        assertThat(Files.readAllLines(work.resolve("mask-flips.tsv"))).containsExactly(FlipLog.HEADER);
        // step 10: a swaps to {2,3} (4 flips); b's second group swaps one entry (2 flips)
        s.update("layers.0.a", new float[] {1, 2, 3, 4}, 1, 4, 10);
        s.update("layers.0.b", new float[] {4, 3, 2, 1, 4, 1, 3, 2}, 1, 8, 10);
        // step 20: back to the initial masks
        s.update("layers.0.a", new float[] {4, 3, 2, 1}, 1, 4, 20);
        s.update("layers.0.b", new float[] {4, 3, 2, 1, 4, 3, 2, 1}, 1, 8, 20);

        List<String> lines = Files.readAllLines(work.resolve("mask-flips.tsv"));
        assertThat(lines).hasSize(3);
        String[] row10 = lines.get(1).split("\t");
        assertThat(Long.parseLong(row10[0])).isEqualTo(10);
        assertThat(Double.parseDouble(row10[1])).isCloseTo(6.0 / 12, within(1e-7)); // r_t
        assertThat(Double.parseDouble(row10[2])).isCloseTo(6.0 / 12, within(1e-7)); // i_t
        assertThat(Double.parseDouble(row10[3])).isCloseTo(3.0 / 12, within(1e-7)); // revived
        String[] row20 = lines.get(2).split("\t");
        assertThat(Long.parseLong(row20[0])).isEqualTo(20);
        assertThat(Double.parseDouble(row20[1])).isCloseTo(6.0 / 12, within(1e-7));
        assertThat(Double.parseDouble(row20[2])).isZero();

        BufferedImage plot = ImageIO.read(work.resolve("mask-flips.png").toFile());
        assertThat(plot.getWidth()).isGreaterThan(100);
    }

    @Test
    void stepZeroStartsANewLog() throws Exception {
        NmMaskStrategy s = strategy(Map.of());
        s.update("layers.0.a", new float[] {4, 3, 2, 1}, 1, 4, 0);
        s.update("layers.0.b", new float[] {4, 3, 2, 1, 4, 3, 2, 1}, 1, 8, 0);
        s.update("layers.0.a", new float[] {1, 2, 3, 4}, 1, 4, 10);
        s.update("layers.0.b", new float[] {4, 3, 2, 1, 4, 3, 2, 1}, 1, 8, 10);
        assertThat(Files.readAllLines(work.resolve("mask-flips.tsv"))).hasSize(2);
        s.update("layers.0.a", new float[] {1, 2, 3, 4}, 1, 4, 0);
        s.update("layers.0.b", new float[] {4, 3, 2, 1, 4, 3, 2, 1}, 1, 8, 0);
        assertThat(Files.readAllLines(work.resolve("mask-flips.tsv"))).containsExactly(FlipLog.HEADER);
        s.update("layers.0.a", new float[] {1, 2, 3, 4}, 1, 4, 10);
        s.update("layers.0.b", new float[] {4, 3, 2, 1, 4, 3, 2, 1}, 1, 8, 10);
        assertThat(Files.readAllLines(work.resolve("mask-flips.tsv")).get(1)).startsWith("10\t0.00000000\t0.00000000");
    }

    @Test
    void aFixedMaskNeverFlips() throws Exception {
        NmMaskStrategy s = strategy(Map.of("mode", "fixed"));
        assertThat(s.updateEvery()).isZero();
        boolean[] first = s.update("layers.0.a", new float[] {4, 3, 2, 1}, 1, 4, 0);
        s.update("layers.0.b", new float[] {4, 3, 2, 1, 4, 3, 2, 1}, 1, 8, 0);
        boolean[] later = s.update("layers.0.a", new float[] {1, 2, 3, 4}, 1, 4, 10);
        s.update("layers.0.b", new float[] {1, 2, 3, 4, 1, 2, 3, 4}, 1, 8, 10);
        assertThat(later).containsExactly(first);
        String[] row = Files.readAllLines(work.resolve("mask-flips.tsv")).get(1).split("\t");
        assertThat(Double.parseDouble(row[1])).isZero();
        assertThat(Double.parseDouble(row[2])).isZero();
    }

    @Test
    void aSecondStrategyWritesItsOwnFiles() {
        assertThat(NmMaskStrategyFactory.fileName("masks[0]")).isEqualTo("mask-flips");
        assertThat(NmMaskStrategyFactory.fileName("masks[2]")).isEqualTo("mask-flips-2");
    }
}
