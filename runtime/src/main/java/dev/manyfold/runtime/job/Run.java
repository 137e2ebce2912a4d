package dev.manyfold.runtime.job;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.runtime.data.TrainingData;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.recipe.RecipeValidator;
import dev.manyfold.runtime.train.TrainConfig;
import java.util.Optional;

/**
 * A recipe made runnable, built once per command by {@link TrainJob#prepare} (train, bench
 * train) or {@link TrainJob#load} (eval, export, generate, bench decode, serve): the train
 * section parsed once, every plugin section created once against the model's shape, one
 * {@link HostContext} (seed, shape, trained exits, work directory, log) that every factory
 * of the run is handed, the data, the model with its adapters and masks, the objective and
 * the recipe's decoder. Commands read these instead of parsing the recipe again. Close it to
 * free the model's tensors.
 *
 * @param recipe the recipe as stored with the run (a tokenizer defaulted from {@code model.from} written in)
 * @param config the train section, parsed once
 * @param context the context every plugin factory of this run was (and is) created with
 * @param components the plugin sections, created once (the decoder with the trained exits known)
 */
public record Run(Recipe recipe, TrainConfig config, HostContext context, TrainingData data, Model model,
        RecipeValidator.Components components, Objective objective, NDManager manager) implements AutoCloseable {

    /** The recipe's {@code decode} section's decoder, created once with {@link #context()}; empty without the section. */
    public Optional<Decoder> decoder() {
        return components.decoder();
    }

    @Override
    public void close() {
        manager.close();
    }
}
