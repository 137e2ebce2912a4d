package dev.manyfold.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Activation;

/**
 * Small tensor helpers shared by the model families.
 *
 * <p>DJL attaches an op's result to the manager of its first operand. Results computed
 * from parameters (which live in the long-lived parameter manager) are therefore moved to
 * the caller's scope with {@link #own}, so that closing the step or decode-iteration
 * manager frees them and nothing piles up next to the parameters.
 */
public final class Ops {
    private Ops() {}

    /**
     * Runs inference code with autograd recording off. PyTorch's grad mode is per thread and
     * DJL turns it off only on the thread that started the engine, so on any other thread
     * every op on a trainable parameter would record a graph (slower, and a KV cache would
     * keep the whole decode's graph alive). The previous mode is restored afterwards.
     */
    public static <T> T withoutAutograd(NDManager manager, java.util.function.Supplier<T> body) {
        return dev.manyfold.runtime.engine.PyTorchEngine.withoutAutograd(manager, body);
    }

    /** Moves {@code array} to {@code manager} and returns it. */
    public static NDArray own(NDManager manager, NDArray array) {
        array.attach(manager);
        return array;
    }

    /** The prefix view {@code [:rows, :cols]} of a 2-D parameter (no copy when it is the whole). */
    public static NDArray prefix(NDManager manager, NDArray weight, int rows, int cols) {
        long r = weight.getShape().get(0);
        long c = weight.getShape().get(1);
        if (rows == r && cols == c) {
            return weight;
        }
        return own(manager, weight.get(new NDIndex(":{}, :{}", rows, cols)));
    }

    /** The prefix view {@code [:n]} of a 1-D parameter. */
    public static NDArray prefix(NDManager manager, NDArray vector, int n) {
        if (n == vector.getShape().get(0)) {
            return vector;
        }
        return own(manager, vector.get(new NDIndex(":{}", n)));
    }

    /** RMSNorm over the last axis: {@code x / sqrt(mean(x²) + eps) * gain}. */
    public static NDArray rmsNorm(NDArray x, NDArray gain, float eps) {
        NDArray rms = x.square().mean(new int[] {-1}, true).add(eps).sqrt();
        return x.div(rms).mul(gain);
    }

    /** SiLU (swish): {@code x · sigmoid(x)}. */
    public static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /** ReLU. */
    public static NDArray relu(NDArray x) {
        return Activation.relu(x);
    }
}
