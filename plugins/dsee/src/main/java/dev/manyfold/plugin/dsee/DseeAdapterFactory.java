package dev.manyfold.plugin.dsee;

import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.adapter.AdapterFactory;

/** Creates {@code dsee} adapters, or {@code lora} ones (the same code with N = 0). */
public final class DseeAdapterFactory implements AdapterFactory {
    /** Sparse + low-rank. */
    public static final String DSEE = "dsee";
    /** Low-rank only, the baseline. */
    public static final String LORA = "lora";

    private final boolean lora;

    private DseeAdapterFactory(boolean lora) {
        this.lora = lora;
    }

    /** The {@code dsee} factory. */
    public static DseeAdapterFactory dsee() {
        return new DseeAdapterFactory(false);
    }

    /** The {@code lora} factory. */
    public static DseeAdapterFactory lora() {
        return new DseeAdapterFactory(true);
    }

    @Override
    public String name() {
        return lora ? LORA : DSEE;
    }

    @Override
    public String description() {
        return lora ? "LoRA: W0 frozen, (α/r)·U·V on the targeted sites (DSEE with no sparse part)"
                : "DSEE: W0 frozen, (α/r)(U·V + P_Ω(S)) with Ω chosen from W0 by GreBsmo, magnitude or at random";
    }

    @Override
    public Adapter create(Settings settings, Context context) {
        DseeConfig config = DseeConfig.read(settings, lora);
        context.model().ifPresent(config::validate);
        return new DseeAdapter(config, context::info);
    }
}
