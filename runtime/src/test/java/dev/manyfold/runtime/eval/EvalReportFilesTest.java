package dev.manyfold.runtime.eval;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.eval.EvalReport.Task;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalReportFilesTest {
    private static final EvalRow FULL = new EvalRow(SubModel.FULL, 13_002, 25_988, 0.456789, 0.842);
    private static final EvalRow SMALL = new EvalRow(SubModel.of(Map.of("depth", 1, "width", 8)), 6_000, 12_000, 0.7, 0.6315);
    private static final EvalReport VISION = EvalReport.of(Task.CLASSIFICATION, List.of(FULL, SMALL), Map.of("width", 16, "depth", 2));

    private static EvalReport text() {
        return EvalReport.of(Task.LANGUAGE_MODEL, List.of(new EvalRow(SubModel.FULL, 5_000, 9_000, 2.0, 0.41),
                new EvalRow(SubModel.of("depth", 1), 3_000, 5_000, 2.5, 0.3)), Map.of("depth", 2))
                .withExits(List.of(new ExitStat(1, 0.25, 0.875, 96), new ExitStat(2, 0.0, 1.0, 96)));
    }

    @Test
    void csvHasOneRowPerSubModelWithBudgetsCostsAndPercentOfFull(@TempDir Path dir) throws IOException {
        Path csv = dir.resolve("eval.csv");
        VISION.writeCsv(csv);
        assertThat(Files.readAllLines(csv)).containsExactly(
                "sub_model,depth,width,parameters,flops_per_example,loss,accuracy,accuracy_pct_of_full,is_full",
                "full,2,16,13002,25988,0.456789,0.842000,100.000,true",
                "\"depth=1,width=8\",1,8,6000,12000,0.700000,0.631500,75.000,false");
    }

    @Test
    void languageModelCsvHasPerplexityAndLabelsItsPercentColumnAsALossRatio(@TempDir Path dir) throws IOException {
        Path csv = dir.resolve("eval.csv");
        text().writeCsv(csv);
        assertThat(Files.readAllLines(csv)).containsExactly(
                "sub_model,depth,parameters,flops_per_token,loss,perplexity,accuracy,full_loss_over_loss_pct,is_full",
                "full,2,5000,9000,2.000000,7.3891,0.410000,100.000,true",
                "depth=1,1,3000,5000,2.500000,12.1825,0.300000,80.000,false");
    }

    @Test
    void exitCsvHasOneRowPerExit(@TempDir Path dir) throws IOException {
        Path csv = dir.resolve("eval-exits.csv");
        text().writeExitsCsv(csv);
        assertThat(Files.readAllLines(csv)).containsExactly("exit,kl_full_to_exit_nats,cosine_hidden,positions",
                "1,0.25000000,0.87500000,96", "2,0.00000000,1.00000000,96");
    }

    @Test
    void aWrittenTableReadsBackForSelectionWithoutReEvaluation(@TempDir Path dir) {
        List<Path> written = text().write(dir);
        assertThat(written).containsExactly(dir.resolve("eval.csv"), dir.resolve("eval-exits.csv"), dir.resolve("eval.png"));
        EvalReport back = EvalReport.readCsv(dir.resolve("eval.csv"), Optional.of(dir.resolve("eval-exits.csv")));
        assertThat(back.task()).isEqualTo(Task.LANGUAGE_MODEL);
        assertThat(back.rows()).isEqualTo(text().rows());
        assertThat(back.dimensions()).isEqualTo(Map.of("depth", 2));
        assertThat(back.exits()).isEqualTo(text().exits());
        assertThat(back.bestWithin(5_000)).map(EvalRow::name).contains("depth=1");

        VISION.writeCsv(dir.resolve("vision.csv"));
        EvalReport vision = EvalReport.readCsv(dir.resolve("vision.csv"), Optional.empty());
        assertThat(vision.task()).isEqualTo(Task.CLASSIFICATION);
        assertThat(vision.rows()).isEqualTo(VISION.rows());
        assertThat(vision.full()).isEqualTo(FULL);
    }

    @Test
    void tablesNameTheirColumnsAndExplainPercentOfFull() {
        StringWriter s = new StringWriter();
        PrintWriter out = new PrintWriter(s, true);
        text().printTable(out);
        text().printExits(out);
        assertThat(s.toString()).contains("perplexity").contains("FLOPs/token").contains("% of full = full-model loss / loss")
                .containsPattern("\\nfull\\s+5,000\\s+9,000\\s+2\\.0000\\s+7\\.389\\s+41\\.00%\\s+100\\.0%\\n")
                .contains("KL(p_L||p_n)").contains("cosine").containsPattern("\\n\\s+1\\s+0\\.250000\\s+0\\.875000\\n");
        StringWriter v = new StringWriter();
        VISION.printTable(new PrintWriter(v, true));
        assertThat(v.toString()).contains("FLOPs/example").contains("% of full = accuracy / full-model accuracy")
                .containsPattern("depth=1,width=8\\s+6,000\\s+12,000\\s+0\\.7000\\s+63\\.15%\\s+75\\.0%");
    }

    @Test
    void withoutAFullRowTheReferenceRowIsMarked() {
        StringWriter s = new StringWriter();
        EvalReport.of(Task.CLASSIFICATION, List.of(SMALL)).printTable(new PrintWriter(s, true));
        assertThat(s.toString()).contains("depth=1,width=8 *").contains("* reference (no full row");
    }

    @Test
    void plotIsAPngOfTheRequestedSizeWithTheFullModelHighlighted(@TempDir Path dir) throws IOException {
        Path png = dir.resolve("eval.png");
        VISION.writePlot(png);
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image).isNotNull();
        assertThat(image.getWidth()).isEqualTo(EvalPlot.DEFAULT_WIDTH);
        assertThat(image.getHeight()).isEqualTo(EvalPlot.DEFAULT_HEIGHT);
        double[] full = EvalPlot.position(VISION, FULL, image.getWidth(), image.getHeight());
        double[] sub = EvalPlot.position(VISION, SMALL, image.getWidth(), image.getHeight());
        assertThat(full[0]).isGreaterThan(sub[0]);
        assertThat(rgb(image, full)).isEqualTo(EvalPlot.FULL.getRGB() & 0xFFFFFF);
        int point = rgb(image, sub);
        assertThat(point).isNotEqualTo(EvalPlot.FULL.getRGB() & 0xFFFFFF).isNotEqualTo(0xFFFFFF);
        assertThat(point & 0xFF).as("blue channel of a sub-model point").isGreaterThan((point >> 16) & 0xFF);

        Path small = dir.resolve("small.png");
        EvalPlot.write(text(), small, 400, 300);
        BufferedImage smallImage = ImageIO.read(small.toFile());
        assertThat(smallImage.getWidth()).isEqualTo(400);
        assertThat(smallImage.getHeight()).isEqualTo(300);
    }

    @Test
    void aSingleSubModelStillPlots(@TempDir Path dir) throws IOException {
        Path png = dir.resolve("one.png");
        EvalReport.of(Task.CLASSIFICATION, List.of(FULL)).writePlot(png);
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(rgb(image, EvalPlot.position(EvalReport.of(Task.CLASSIFICATION, List.of(FULL)), FULL, image.getWidth(),
                image.getHeight()))).isEqualTo(EvalPlot.FULL.getRGB() & 0xFFFFFF);
    }

    @Test
    void logTicksAreOneTwoFiveWithinADecadeAndPowersOfTenOverMany() {
        assertThat(EvalPlot.logTicks(3, 5).stream().map(t -> EvalPlot.si(Math.pow(10, t))))
                .containsExactly("1k", "2k", "5k", "10k", "20k", "50k", "100k");
        assertThat(EvalPlot.logTicks(Math.log10(1500), Math.log10(9000)).stream().map(t -> EvalPlot.si(Math.pow(10, t))))
                .containsExactly("2k", "3k", "4k", "5k", "6k", "7k", "8k", "9k");
        assertThat(EvalPlot.logTicks(Math.log10(1500), Math.log10(4000)).stream().map(t -> EvalPlot.si(Math.pow(10, t))))
                .containsExactly("2k", "3k", "4k");
        assertThat(EvalPlot.logTicks(Math.log10(12_000), Math.log10(28_000)).stream().map(t -> EvalPlot.si(Math.pow(10, t))))
                .containsExactly("15k", "20k", "25k");
        assertThat(EvalPlot.logTicks(2.5, 9.5).stream().map(t -> EvalPlot.si(Math.pow(10, t))))
                .containsExactly("1k", "10k", "100k", "1M", "10M", "100M", "1G");
    }

    private static int rgb(BufferedImage image, double[] at) {
        return image.getRGB((int) Math.round(at[0]), (int) Math.round(at[1])) & 0xFFFFFF;
    }
}
