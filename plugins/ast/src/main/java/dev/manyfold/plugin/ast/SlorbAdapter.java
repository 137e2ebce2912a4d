package dev.manyfold.plugin.ast;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.adapter.Adapter;
import java.util.List;

/** A configured {@code slorb} adapter; {@link #attach} creates one {@link Slorb} per site. */
public final class SlorbAdapter implements Adapter {
    private final SlorbConfig config;

    public SlorbAdapter(SlorbConfig config) {
        this.config = requireNonNull(config, "config is null");
    }

    public SlorbConfig config() {
        return config;
    }

    @Override
    public List<String> targets() {
        return config.targets();
    }

    @Override
    public Slorb attach(String site, NDArray weight, NDManager parameters, long seed) {
        return Slorb.attach(config, site, weight, parameters);
    }
}
