package dev.manyfold.testkit;

import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A {@link Context} for plugin tests, built like the host builds it: a seed, optionally a model
 * shape and trained exits, recipe sections, a work directory; {@link #messages()} records what
 * the plugin reported with {@link #info}. Thread-safe.
 *
 * <pre>
 * Context context = TestingContext.builder().model(Shapes.llama(4)).trainedExits(2, 4).build();
 * </pre>
 */
public final class TestingContext implements Context {
    private final long seed;
    private final Optional<ModelShape> model;
    private final List<Integer> trainedExits;
    private final Path workDirectory;
    private final Map<String, Object> recipe;
    private final List<String> messages = Collections.synchronizedList(new ArrayList<>());

    private TestingContext(Builder b) {
        this.seed = b.seed;
        this.model = Optional.ofNullable(b.model);
        this.trainedExits = List.copyOf(b.trainedExits);
        this.workDirectory = b.workDirectory;
        this.recipe = Map.copyOf(b.recipe);
    }

    /** Seed 42, no model (as while validating a recipe), work directory {@code target/test-work}. */
    public static TestingContext validating() {
        return builder().build();
    }

    /** A context for a model of this shape, as during training. */
    public static TestingContext of(ModelShape shape) {
        return builder().model(shape).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public long seed() {
        return seed;
    }

    @Override
    public Optional<ModelShape> model() {
        return model;
    }

    @Override
    public List<Integer> trainedExits() {
        return trainedExits;
    }

    @Override
    public Path workDirectory() {
        return workDirectory;
    }

    @Override
    public Optional<Settings> recipeSection(String name) {
        return recipe.containsKey(name) ? Optional.of(Settings.of("", recipe).section(name)) : Optional.empty();
    }

    @Override
    public void info(String message) {
        messages.add(message);
    }

    /** Everything reported through {@link #info}, in order. */
    public List<String> messages() {
        synchronized (messages) {
            return List.copyOf(messages);
        }
    }

    /** Builds a {@link TestingContext}. */
    public static final class Builder {
        private long seed = 42;
        private ModelShape model;
        private List<Integer> trainedExits = List.of();
        private Path workDirectory = Path.of("target", "test-work");
        private final Map<String, Object> recipe = new LinkedHashMap<>();

        private Builder() {}

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Builder model(ModelShape model) {
            this.model = model;
            return this;
        }

        /** The model's trained exits (ascending; the full depth last), as the host gives decoders. */
        public Builder trainedExits(Integer... exits) {
            this.trainedExits = List.of(exits);
            return this;
        }

        public Builder workDirectory(Path dir) {
            this.workDirectory = dir;
            return this;
        }

        /** A top-level recipe section other factories may read ({@link Context#recipeSection}). */
        public Builder recipeSection(String name, Map<String, ?> values) {
            recipe.put(name, values);
            return this;
        }

        public TestingContext build() {
            return new TestingContext(this);
        }
    }
}
