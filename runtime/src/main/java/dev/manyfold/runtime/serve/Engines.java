package dev.manyfold.runtime.serve;

import java.util.LinkedHashMap;
import java.util.Map;

/** The engines {@code manyfold serve --engine} accepts, by name. */
public final class Engines {
    private static final Map<String, ModelLoader> LOADERS = new LinkedHashMap<>();

    static {
        LOADERS.put("pytorch", RunModelLoader::load);
    }

    private Engines() {}

    /**
     * The loader for an engine.
     *
     * @throws IllegalArgumentException for an unknown engine, listing the known ones
     */
    public static ModelLoader get(String engine) {
        ModelLoader loader = LOADERS.get(engine);
        if (loader == null) {
            throw new IllegalArgumentException("--engine: unknown engine \"" + engine + "\" (accepted: one of " + LOADERS.keySet() + ")");
        }
        return loader;
    }
}
