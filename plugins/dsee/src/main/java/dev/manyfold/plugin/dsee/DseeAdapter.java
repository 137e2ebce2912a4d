package dev.manyfold.plugin.dsee;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.prune.RestorableAdapter;
import java.util.List;
import java.util.Map;

/** A configured {@code dsee} or {@code lora} adapter; {@link #attach} creates one {@link SparseLowRank} per site. */
public final class DseeAdapter implements RestorableAdapter {
    private final DseeConfig config;
    private final java.util.function.Consumer<String> info;

    public DseeAdapter(DseeConfig config) {
        this(config, message -> {});
    }

    /** @param info receives one GreBsmo report line per attached site (see {@link SparseLowRank#grebsmoLine}) */
    public DseeAdapter(DseeConfig config, java.util.function.Consumer<String> info) {
        this.config = requireNonNull(config, "config is null");
        this.info = requireNonNull(info, "info is null");
    }

    public DseeConfig config() {
        return config;
    }

    @Override
    public List<String> targets() {
        return config.targets();
    }

    @Override
    public SparseLowRank attach(String site, NDArray weight, NDManager parameters, long seed) {
        return SparseLowRank.attach(config, site, weight, parameters, seed, info);
    }

    /** Rebuilds the adapter from its saved u, v, s and Ω (for example after the site was sliced). */
    @Override
    public SparseLowRank restore(String site, NDArray weight, Map<String, NDArray> saved, NDManager parameters) {
        return SparseLowRank.restore(config, site, weight, saved, parameters);
    }
}
