package dev.manyfold.runtime.job;

import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.Settings;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.dimension.Dimension;
import dev.manyfold.api.dimension.DimensionFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

/**
 * A stand-alone plugin (API and JDK classes only, packaged by {@code PluginJar}) whose
 * {@code depth} dimension and {@code counting} decoder append one line per {@code create} call
 * to the file named by the system property {@value #COUNTS}: how often a command created
 * each plugin section, seen across the plugin's own class loader.
 */
public final class CountingPlugin implements Plugin {
    /** System property naming the file the factories append to. */
    public static final String COUNTS = "manyfold.test.counts";

    static void count(String what) {
        try {
            Files.writeString(Path.of(System.getProperty(COUNTS)), what + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public List<DimensionFactory> dimensions() {
        return List.of(new DimensionFactory() {
            @Override
            public String name() {
                return "depth";
            }

            @Override
            public Dimension create(Settings settings, Context context) {
                count("dimension");
                List<Integer> budgets = List.copyOf(settings.getIntList("budgets", List.of()));
                return new Dimension() {
                    @Override
                    public String name() {
                        return "depth";
                    }

                    @Override
                    public List<Integer> budgets(ModelShape model) {
                        return budgets;
                    }
                };
            }
        });
    }

    @Override
    public List<DecoderFactory> decoders() {
        return List.of(new DecoderFactory() {
            @Override
            public String name() {
                return "counting";
            }

            @Override
            public Decoder create(Settings settings, Context context) {
                count("decoder");
                return (model, prompt, maxNewTokens, onToken) -> Generation.of(new int[0], Map.of());
            }
        });
    }
}
