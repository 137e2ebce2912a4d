package dev.manyfold.runtime.model;

import ai.djl.ndarray.NDArray;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.List;

/**
 * What host code (eval's exit analysis, bench decode's teacher-forced exits) may use of a
 * language model whose depth exits share one head: obtained from {@link Model#languageModel()},
 * so the host never names a family class.
 */
public interface LayeredLanguageModel extends LanguageModel {
    /** The hidden width. */
    int dim();

    /** The shared final norm and head: hidden {@code [..., d]} to logits {@code [..., V]}. */
    NDArray head(NDArray hidden, int d);

    /** Logits at each of {@code exitDepths} (see {@link Model#forwardExits}). */
    List<NDArray> forwardExits(NDArray tokens, SubModel subModel, List<Integer> exitDepths);

    /** The model's tensors. */
    ParameterStore parameters();
}
