package dev.manyfold.runtime.recipe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipeStrictParsingTest {
    @TempDir
    Path tmp;

    @Test
    void duplicateKeysAreRefusedWithTheirPath() {
        assertThatThrownBy(() -> Recipe.parse("train: { steps: 20, steps: 1 }", "r.yaml")).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("train.steps: duplicate key");
        assertThatThrownBy(() -> Recipe.parse("train:\n  steps: 20\ntrain:\n  steps: 1\n", "r.yaml")).hasMessageStartingWith("train: duplicate key");
        assertThatThrownBy(() -> Recipe.parse("adapters: [ { type: a, rank: 1, rank: 2 } ]", "r.yaml"))
                .hasMessageStartingWith("adapters[0].rank: duplicate key");
    }

    @Test
    void aSecondDocumentIsRefused() {
        assertThatThrownBy(() -> Recipe.parse("train: { steps: 20 }\n---\ntrain: { steps: 1 }\n", "r.yaml"))
                .hasMessageStartingWith("r.yaml: a second YAML document");
    }

    @Test
    void aliasesAreRefusedNotTurnedIntoStrings() {
        assertThatThrownBy(() -> Recipe.parse("model: { family: mlp, hidden: &e 64, blocks: *e }", "r.yaml"))
                .hasMessageStartingWith("model.blocks: the alias *e is not supported");
    }

    @Test
    void nonFiniteNumbersAreRefusedWhereverTheyAppear() {
        for (String v : List.of(".nan", ".inf", "-.inf", ".NaN", "1e400")) {
            assertThatThrownBy(() -> Recipe.parse("train: { eps: " + v + " }", "r.yaml")).as(v).isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith("train.eps: " + v + " is not a finite number");
        }
        for (String v : List.of("Infinity", "NaN", "-Infinity", "inf", "\".inf\"")) {
            Recipe r = Recipe.parse("train: { eps: " + v + " }", "r.yaml");
            Settings train = r.section("train");
            assertThatThrownBy(() -> train.getDouble("eps", 1e-8)).as(v).isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith("train.eps: ").hasMessageContaining("is not a finite number");
        }
        for (String v : List.of("0x1p3", "1d", "1.5f")) {
            Settings train = Recipe.parse("train: { eps: \"" + v + "\" }", "r.yaml").section("train");
            assertThatThrownBy(() -> train.getDouble("eps", 1e-8)).as(v).hasMessageContaining("expected a number");
        }
        assertThat(Recipe.parse("train: { lr: 3e-4, eps: 1.0e-8 }", "r.yaml").section("train").getDouble("lr", 0)).isEqualTo(3e-4);
    }

    @Test
    void hugeInputsAreRefusedQuicklyByTheParsersOwnLimits() throws Exception {
        String longString = "description: \"" + "x".repeat(Recipe.MAX_STRING + 1) + "\"\n";
        assertThatThrownBy(() -> Recipe.parse(longString, "r.yaml")).hasMessageContaining("exceeds a size limit");
        String deep = "model: " + "[".repeat(Recipe.MAX_DEPTH + 5) + "]".repeat(Recipe.MAX_DEPTH + 5);
        assertThatThrownBy(() -> Recipe.parse(deep, "r.yaml")).isInstanceOf(ConfigException.class).hasMessageContaining("limit");
        String big = "description: \"" + "x".repeat(30_000_000) + "\"\n";
        assertThatThrownBy(() -> Recipe.parse(big, "ckpt#recipe")).hasMessageStartingWith("ckpt#recipe: the recipe is 30000016 characters");
        Path file = Files.writeString(tmp.resolve("big.yaml"), big);
        assertThatThrownBy(() -> Recipe.load(file)).hasMessageContaining("more than the limit of " + Recipe.MAX_CHARS);
    }

    @Test
    void onlyRegularFilesAreReadAsRecipes() throws Exception {
        assertThatThrownBy(() -> Recipe.load(tmp)).hasMessageContaining("not a regular file");
        assertThatThrownBy(() -> Recipe.load(Path.of("/dev/zero"))).hasMessageContaining("not a regular file");
        Path fifo = tmp.resolve("fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertThat(mk.waitFor()).isZero();
        assertThatThrownBy(() -> Recipe.load(fifo)).hasMessageContaining("not a regular file");
        Path latin1 = Files.write(tmp.resolve("l.yaml"), new byte[] {'n', 'a', 'm', 'e', ':', ' ', (byte) 0xE9});
        assertThatThrownBy(() -> Recipe.load(latin1)).hasMessageContaining("not valid UTF-8");
    }

    @Test
    void orderAndValuesSurviveTheStrictReader() {
        Recipe r = Recipe.parse("name: x\nmodel: { family: llama, dim: 32 }\nadapters: [ { type: a, targets: [q, k] } ]\neval: {}\n", "r.yaml");
        assertThat(r.asMap().keySet()).containsExactly("name", "model", "adapters", "eval");
        assertThat(r.asMap().get("adapters")).isEqualTo(List.of(Map.of("type", "a", "targets", List.of("q", "k"))));
    }
}
