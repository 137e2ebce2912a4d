package dev.manyfold.runtime.host;

import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The {@link Context} the runtime hands to factories.
 *
 * @param recipe the whole recipe as plain data (sections are handed out as fresh views)
 * @param trainedExits the model's trained exits when known (a loaded language model), else empty
 */
public record HostContext(long seed, Optional<ModelShape> model, Path workDirectory, Consumer<String> out, Map<String, Object> recipe,
        java.util.List<Integer> trainedExits) implements Context {
    public HostContext {
        trainedExits = java.util.List.copyOf(trainedExits);
    }

    public HostContext(long seed, Optional<ModelShape> model, Path workDirectory, Consumer<String> out, Map<String, Object> recipe) {
        this(seed, model, workDirectory, out, recipe, java.util.List.of());
    }

    public HostContext(long seed, Optional<ModelShape> model, Path workDirectory, Consumer<String> out) {
        this(seed, model, workDirectory, out, Map.of());
    }

    /** This context with its messages going to {@code log} instead (a command printing a run's plugin messages). */
    public HostContext withLog(Consumer<String> log) {
        return new HostContext(seed, model, workDirectory, log, recipe, trainedExits);
    }

    /** This context with the model's trained exits, once a run knows them. */
    public HostContext withTrainedExits(java.util.List<Integer> exits) {
        return new HostContext(seed, model, workDirectory, out, recipe, exits);
    }

    @Override
    public void info(String message) {
        out.accept(message);
    }

    @Override
    public Optional<Settings> recipeSection(String name) {
        return recipe.containsKey(name) ? Optional.of(Settings.of("", recipe).section(name)) : Optional.empty();
    }
}
