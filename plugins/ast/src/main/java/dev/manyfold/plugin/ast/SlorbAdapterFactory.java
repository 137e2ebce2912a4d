package dev.manyfold.plugin.ast;

import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.adapter.AdapterFactory;

/** Creates {@code slorb} adapters. */
public final class SlorbAdapterFactory implements AdapterFactory {
    public static final String NAME = "slorb";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "SLoRB (AST sparse low-rank boosting): W_eff = M⊙W + S·X, S [out, in/k] initialised from the pruned weights' group means";
    }

    @Override
    public Adapter create(Settings settings, Context context) {
        SlorbConfig config = SlorbConfig.read(settings);
        context.model().ifPresent(config::validate);
        return new SlorbAdapter(config);
    }
}
