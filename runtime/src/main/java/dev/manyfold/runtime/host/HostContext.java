package dev.manyfold.runtime.host;

import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Consumer;

/** The {@link Context} the runtime hands to factories. */
public record HostContext(long seed, Optional<ModelShape> model, Path workDirectory, Consumer<String> out) implements Context {
    @Override
    public void info(String message) {
        out.accept(message);
    }
}
