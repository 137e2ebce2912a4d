package dev.manyfold.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SitesCommandTest {
    @Test
    void sitesListsEveryLinearSiteOfTheRecipesModelWithItsShape(@TempDir Path dir) throws Exception {
        Path recipe = Files.writeString(dir.resolve("tiny.yaml"), """
                name: tiny
                model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
                data: { type: text, context: 16, limit: 300 }
                train: { steps: 1 }
                """);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(new String[] {"sites", recipe.toString()}, new PrintWriter(out, true), new PrintWriter(err, true));

        assertThat(code).as(err.toString()).isZero();
        assertThat(out.toString()).contains("llama model of tiny: 15 linear sites")
                .contains("  layers.0.attn.q_proj         [16, 16]").contains("  layers.1.mlp.down_proj       [16, 24]")
                .contains("  lm_head ");
    }

    @Test
    void sitesBuildsOnlyTheShapeAndNeverReadsTheData(@TempDir Path dir) throws Exception {
        // Files with the right names but no IDX content: the checks validate makes pass, reading them would fail.
        Path data = Files.createDirectories(dir.resolve("fmnist"));
        for (dev.manyfold.runtime.data.FashionMnist.Part part : dev.manyfold.runtime.data.FashionMnist.Part.values()) {
            Files.writeString(data.resolve(part.imagesFile()), "not an idx file");
            Files.writeString(data.resolve(part.labelsFile()), "not an idx file");
        }
        Path recipe = Files.writeString(dir.resolve("mlp.yaml"), """
                name: mlp
                model: { family: mlp, hidden: 64, blocks: 2 }
                data: { type: fashion-mnist, path: %s }
                train: { steps: 1 }
                """.formatted(data));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(new String[] {"sites", recipe.toString()}, new PrintWriter(out, true), new PrintWriter(err, true));

        assertThat(code).as(err.toString()).isZero();
        assertThat(out.toString()).contains("mlp model of mlp: 4 linear sites").contains("  input ").contains("[64, 784]")
                .contains("  blocks.1.fc ").contains("  head ");
        int train = Main.execute(new String[] {"train", recipe.toString(), "--run-dir", dir.resolve("run").toString()},
                new PrintWriter(new StringWriter()), new PrintWriter(err, true));
        assertThat(train).as("train reads the data, which is not valid").isNotZero();
    }

    @Test
    void aMissingRecipeIsBadInput() {
        StringWriter err = new StringWriter();
        int code = Main.execute(new String[] {"sites", "/nonexistent.yaml"}, new PrintWriter(new StringWriter()), new PrintWriter(err, true));
        assertThat(code).isEqualTo(Main.BAD_INPUT);
        assertThat(err.toString()).contains("nonexistent.yaml");
    }
}
