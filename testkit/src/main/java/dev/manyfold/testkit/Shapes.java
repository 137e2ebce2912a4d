package dev.manyfold.testkit;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.ModelShape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * Model shapes for plugin tests, without weights: a builder for any family, and the shapes
 * the host's families declare (site names as the host spells them).
 */
public final class Shapes {
    private Shapes() {}

    /** A LLaMA shape: {@code layers} layers of width 32, 4 heads (2 KV heads), FFN 64, vocabulary 24. */
    public static ModelShape llama(int layers) {
        return llama(layers, 32, 4, 2, 64, 24);
    }

    /**
     * A LLaMA shape as the host's {@code llama} family declares it: sites
     * {@code layers.<i>.attn.{q,k,v,o}_proj}, {@code layers.<i>.mlp.{gate,up,down}_proj} and
     * {@code lm_head}; dimensions depth, heads, ffn and embedding.
     */
    public static ModelShape llama(int layers, int dim, int heads, int kvHeads, int ffn, int vocab) {
        int hd = dim / heads;
        Builder b = builder("llama").dimension("depth", layers).dimension("heads", heads).dimension("ffn", ffn)
                .dimension("embedding", dim).size("dim", dim).size("head-dim", hd).size("kv-heads", kvHeads).size("vocab", vocab);
        for (int i = 0; i < layers; i++) {
            String l = "layers." + i;
            b.site(l + ".attn.q_proj", heads * hd, dim).site(l + ".attn.k_proj", kvHeads * hd, dim)
                    .site(l + ".attn.v_proj", kvHeads * hd, dim).site(l + ".attn.o_proj", dim, heads * hd)
                    .site(l + ".mlp.gate_proj", ffn, dim).site(l + ".mlp.up_proj", ffn, dim).site(l + ".mlp.down_proj", dim, ffn);
        }
        return b.site("lm_head", vocab, dim).build();
    }

    /** A shape with the given sites only (no dimensions), in sorted site order. */
    public static ModelShape sites(String family, Map<String, int[]> sites) {
        Builder b = builder(family);
        new TreeMap<>(sites).forEach((name, s) -> b.site(name, s[0], s[1]));
        return b.build();
    }

    public static Builder builder(String family) {
        return new Builder(family);
    }

    /** Builds an immutable {@link ModelShape}. */
    public static final class Builder {
        private final String family;
        private final Map<String, Integer> dimensions = new LinkedHashMap<>();
        private final Map<String, Integer> sizes = new LinkedHashMap<>();
        private final Map<String, int[]> sites = new LinkedHashMap<>();

        private Builder(String family) {
            this.family = requireNonNull(family, "family is null");
        }

        public Builder dimension(String name, int max) {
            dimensions.put(name, max);
            return this;
        }

        public Builder size(String name, int value) {
            sizes.put(name, value);
            return this;
        }

        /** A linear site with weight {@code [out, in]}, in model order. */
        public Builder site(String name, int out, int in) {
            sites.put(name, new int[] {out, in});
            return this;
        }

        public ModelShape build() {
            Map<String, Integer> dims = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(dimensions));
            Map<String, Integer> sz = Map.copyOf(sizes);
            Map<String, int[]> st = new LinkedHashMap<>(sites);
            List<String> names = List.copyOf(new ArrayList<>(st.keySet()));
            return new ModelShape() {
                @Override
                public String family() {
                    return family;
                }

                @Override
                public Map<String, Integer> dimensions() {
                    return dims;
                }

                @Override
                public OptionalInt size(String name) {
                    Integer v = sz.get(name);
                    return v == null ? OptionalInt.empty() : OptionalInt.of(v);
                }

                @Override
                public List<String> sites() {
                    return names;
                }

                @Override
                public int[] siteShape(String site) {
                    int[] s = st.get(site);
                    if (s == null) {
                        throw new IllegalArgumentException("no site " + site + " in this " + family + " shape; sites: " + names);
                    }
                    return s.clone();
                }

                @Override
                public String toString() {
                    return family + dims;
                }
            };
        }
    }
}
