package dev.manyfold.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class GlobsTest {
    private static final List<String> SITES = List.of(
            "layers.0.attn.q_proj", "layers.0.attn.k_proj", "layers.0.attn.v_proj", "layers.0.mlp.up_proj",
            "layers.1.attn.q_proj", "layers.1.attn.v_proj", "layers.1.mlp.up_proj", "head");

    @Test
    void globWithoutWildcardsMatchesTheSiteOrAnyDottedSuffix() {
        assertThat(Globs.matches("head", "head")).isTrue();
        assertThat(Globs.matches("q_proj", "layers.0.attn.q_proj")).isTrue();
        assertThat(Globs.matches("attn.q_proj", "layers.0.attn.q_proj")).isTrue();
        assertThat(Globs.matches("layers.0.attn.q_proj", "layers.0.attn.q_proj")).isTrue();
    }

    @Test
    void globWithoutWildcardsDoesNotMatchInsideASegment() {
        assertThat(Globs.matches("q_proj", "layers.0.attn.xq_proj")).isFalse();
        assertThat(Globs.matches("proj", "layers.0.attn.q_proj")).isFalse();
        assertThat(Globs.matches("layers.0", "layers.0.attn.q_proj")).isFalse();
    }

    @Test
    void singleStarMatchesWithinOneSegmentOnly() {
        assertThat(Globs.matches("layers.*.attn.q_proj", "layers.3.attn.q_proj")).isTrue();
        assertThat(Globs.matches("layers.*.attn.q_proj", "layers.3.x.attn.q_proj")).isFalse();
        assertThat(Globs.matches("layers.*", "layers.0.attn.q_proj")).isFalse();
        assertThat(Globs.matches("*_proj", "layers.0.attn.q_proj")).isTrue();
    }

    @Test
    void leadingStarGlobMatchesAsASuffixOfSegments() {
        assertThat(Globs.matches("*.v_proj", "layers.0.attn.v_proj")).isTrue();
        assertThat(Globs.matches("*.v_proj", "layers.0.attn.q_proj")).isFalse();
        assertThat(Globs.matches("attn.*", "layers.1.attn.k_proj")).isTrue();
        assertThat(Globs.matches("attn.*", "layers.1.mlp.up_proj")).isFalse();
    }

    @Test
    void doubleStarMatchesAcrossSegments() {
        assertThat(Globs.matches("layers.**", "layers.0.attn.q_proj")).isTrue();
        assertThat(Globs.matches("**.q_proj", "layers.0.attn.q_proj")).isTrue();
        assertThat(Globs.matches("layers.**.up_proj", "layers.1.mlp.up_proj")).isTrue();
        assertThat(Globs.matches("layers.**.up_proj", "layers.1.attn.q_proj")).isFalse();
    }

    @Test
    void regexCharactersInGlobsAreLiteral() {
        assertThat(Globs.matches("*.w[0]", "block.w[0]")).isTrue();
        assertThat(Globs.matches("*.w[0]", "block.w0")).isFalse();
        assertThat(Globs.matches("a+b.*", "a+b.c")).isTrue();
        assertThat(Globs.matches("a+b.*", "aab.c")).isFalse();
    }

    @Test
    void selectKeepsSiteOrderAndListsEachSiteOnce() {
        List<String> selected = Globs.select(List.of("*.v_proj", "*.q_proj", "layers.0.attn.*"), SITES);

        assertThat(selected).containsExactly("layers.0.attn.q_proj", "layers.0.attn.k_proj", "layers.0.attn.v_proj",
                "layers.1.attn.q_proj", "layers.1.attn.v_proj");
    }

    @Test
    void selectWithNoMatchingGlobIsEmpty() {
        assertThat(Globs.select(List.of("*.o_proj"), SITES)).isEmpty();
        assertThat(Globs.select(List.of(), SITES)).isEmpty();
    }
}
