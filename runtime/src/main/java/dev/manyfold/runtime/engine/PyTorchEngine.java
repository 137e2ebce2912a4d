package dev.manyfold.runtime.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.function.Supplier;

/**
 * The few calls that need DJL's PyTorch engine classes ({@code PtNDArray}, {@code JniUtils}).
 * Generic code (the trainer, the model core) calls these and stays engine-neutral: on any
 * other engine each falls back to DJL's portable API.
 */
public final class PyTorchEngine {
    /** DJL's engine name for PyTorch. */
    public static final String NAME = "PyTorch";

    private PyTorchEngine() {}

    /**
     * The array's gradient, or null while no backward pass has reached it. DJL's
     * {@code getGradient()} cannot tell: on PyTorch it returns a fresh zeros array for an
     * undefined gradient instead of throwing.
     */
    public static NDArray gradientIfReached(NDArray array) {
        if (array instanceof PtNDArray pt) {
            return JniUtils.getGradient(pt);
        }
        return array.getGradient();
    }

    /**
     * Runs {@code body} with PyTorch's per-thread grad mode off (restored afterwards); on
     * other engines, or when grad mode is already off, runs it as is.
     */
    public static <T> T withoutAutograd(NDManager manager, Supplier<T> body) {
        if (!NAME.equals(manager.getEngine().getEngineName()) || !JniUtils.isGradMode()) {
            return body.get();
        }
        JniUtils.setGradMode(false);
        try {
            return body.get();
        } finally {
            JniUtils.setGradMode(true);
        }
    }
}
