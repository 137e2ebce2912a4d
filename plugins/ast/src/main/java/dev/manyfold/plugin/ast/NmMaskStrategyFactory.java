package dev.manyfold.plugin.ast;

import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.api.mask.MaskStrategyFactory;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Creates {@code nm} mask strategies. */
public final class NmMaskStrategyFactory implements MaskStrategyFactory {
    public static final String NAME = "nm";
    private static final Pattern INDEX = Pattern.compile("\\[(\\d+)]$");

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "AST N:M (2:4) magnitude masks along the input dimension, recomputed every Δt steps, "
                + "straight-through, annealed decay of pruned weights; logs flip rates";
    }

    @Override
    public MaskStrategy create(Settings settings, Context context) {
        NmConfig config = NmConfig.read(settings);
        int expected = context.model().map(shape -> config.validate(shape).size()).orElse(-1);
        FlipLog log = new FlipLog(context.workDirectory(), fileName(settings.path()), expected, config.plotEvery());
        return new NmMaskStrategy(config, log);
    }

    /** {@code mask-flips} for {@code masks[0]}, {@code mask-flips-N} for {@code masks[N]}. */
    static String fileName(String path) {
        Matcher m = INDEX.matcher(path);
        if (m.find()) {
            return m.group(1).equals("0") ? "mask-flips" : "mask-flips-" + m.group(1);
        }
        return "mask-flips";
    }
}
