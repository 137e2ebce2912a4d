package dev.manyfold.api;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Host services handed to factories. Implemented by the host; plugins never implement it.
 * Thread-safe.
 */
public interface Context {
    /** The run's seed; derive all randomness from it so that runs repeat bit for bit. */
    long seed();

    /**
     * The shape of the model the instance will act on, when one is known (always during
     * training and evaluation; absent while validating a recipe without building its model).
     */
    Optional<ModelShape> model();

    /** A directory where the instance may write metrics or plots; created on demand. */
    Path workDirectory();

    /**
     * A fresh, read-only view of another top-level section of the recipe (for example
     * {@code "dimensions"}), for plugins whose configuration refers to it instead of
     * repeating it. Its keys are validated by whoever owns that section, not by the caller.
     * Empty when the recipe has no such section or the host has no recipe at hand.
     */
    default Optional<Settings> recipeSection(String name) {
        return Optional.empty();
    }

    /**
     * The exit depths the model was trained for (ascending, the last is the full depth), when
     * the host knows them: while creating a decoder for a loaded model, and during training.
     * Empty otherwise (validating a recipe without a model). A decoder checks its exit settings
     * against them at creation, naming the recipe path, before anything is generated.
     *
     * @since 1.1
     */
    default java.util.List<Integer> trainedExits() {
        return java.util.List.of();
    }

    /** Reports a progress or information line to the user (console or log). */
    void info(String message);
}
