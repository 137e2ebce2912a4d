package dev.manyfold.plugin.dsee;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.adapter.Adapter;
import java.util.List;

/** A configured {@code dsee} or {@code lora} adapter; {@link #attach} creates one {@link SparseLowRank} per site. */
public final class DseeAdapter implements Adapter {
    private final DseeConfig config;

    public DseeAdapter(DseeConfig config) {
        this.config = requireNonNull(config, "config is null");
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
        return SparseLowRank.attach(config, site, weight, parameters, seed);
    }
}
