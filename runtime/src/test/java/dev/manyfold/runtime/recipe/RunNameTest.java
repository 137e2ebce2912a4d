package dev.manyfold.runtime.recipe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.ConfigException;
import java.util.List;
import org.junit.jupiter.api.Test;

class RunNameTest {
    @Test
    void aRunNameWithPathPartsIsRefused() {
        for (String name : List.of("../../x", "a/b", "\"a\\\\b\"", ".hidden", "..", "\"\"", "\"a b\"", "[x]", "{a: 1}",
                "x".repeat(101))) {
            assertThatThrownBy(() -> Recipe.parse("name: " + name + "\n", "r.yaml")).as(name).isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith("name: ").hasMessageContaining("is not a run name");
        }
    }

    @Test
    void plainNamesAndNumbersAreAcceptedAndAFileNameIsMadeSafe() {
        assertThat(Recipe.parse("name: sorted-mlp_2.1+x\n", "r.yaml").name()).isEqualTo("sorted-mlp_2.1+x");
        assertThat(Recipe.parse("name: 2024\n", "r.yaml").name()).isEqualTo("2024");
        assertThat(Recipe.parse("model: {}\n", "dir/my recipe.yaml").name()).isEqualTo("my_recipe");
    }
}
