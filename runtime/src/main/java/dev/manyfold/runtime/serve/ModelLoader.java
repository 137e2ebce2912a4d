package dev.manyfold.runtime.serve;

import dev.manyfold.runtime.host.Manyfold;
import java.nio.file.Path;

/**
 * Opens a run directory or export as a {@link ServedModel} on one engine. Engines are
 * chosen by name ({@code manyfold serve --engine NAME}); see {@link Engines}.
 */
@FunctionalInterface
public interface ModelLoader {
    /**
     * @param id the model id to serve it under
     * @throws IllegalArgumentException or {@link dev.manyfold.api.ConfigException} naming the path when it cannot be served
     */
    ServedModel load(Manyfold host, Path path, String id);
}
