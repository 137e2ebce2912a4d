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

    /** DJL's system property for PyTorch's intra-op threads, applied by DJL when the engine starts (it wins over the default below). */
    public static final String THREADS_PROPERTY = "ai.djl.pytorch.num_threads";
    private static volatile String threadsNote;

    /**
     * Sets PyTorch's intra-op threads (process-wide) to {@code threads} for decoding or training, unless
     * {@code -Dai.djl.pytorch.num_threads} or {@code OMP_NUM_THREADS} fixes the count. The
     * count comes from the host's rule by model size
     * ({@code dev.manyfold.runtime.onnx.Engines#pytorchDecodeThreads} and {@code #pytorchTrainingThreads}); {@code why} says where
     * it came from. Returns how many and why, as {@link #threadsNote()}.
     */
    public static synchronized String intraOpThreads(int threads, String why) {
        if (System.getProperty(THREADS_PROPERTY) != null) {
            why = "-D" + THREADS_PROPERTY;
        } else if (System.getenv("OMP_NUM_THREADS") != null) {
            why = "OMP_NUM_THREADS";
        } else if (JniUtils.getNumThreads() != threads) {
            JniUtils.setNumThreads(threads);
        }
        int n = JniUtils.getNumThreads();
        threadsNote = n + " intra-op thread" + (n == 1 ? "" : "s") + " (" + why + ")";
        return threadsNote;
    }

    /** What the last {@link #intraOpThreads} chose and why, or null before a decode or training command set it. */
    public static String threadsNote() {
        return threadsNote;
    }

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
