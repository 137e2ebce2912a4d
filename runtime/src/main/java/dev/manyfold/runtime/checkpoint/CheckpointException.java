package dev.manyfold.runtime.checkpoint;

/**
 * A checkpoint file could not be read, written or validated. The message names the file,
 * the tensor when there is one, what was found and what would have been accepted, e.g.
 * {@code "run/checkpoint-10.safetensors: tensor layers.0.attn.q_proj: data_offsets [0, 12]
 * hold 12 bytes but F32 [2, 3] needs 24"}.
 */
public class CheckpointException extends RuntimeException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
