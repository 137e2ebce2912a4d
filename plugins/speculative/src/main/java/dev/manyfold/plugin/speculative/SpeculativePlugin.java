package dev.manyfold.plugin.speculative;

import dev.manyfold.api.Plugin;
import dev.manyfold.api.decoder.DecoderFactory;
import java.util.List;

/**
 * Adaptive decoding for models with trained exits (Sorted LLaMA §3–4): {@code greedy},
 * {@code self-speculative} and {@code early-exit}.
 */
public final class SpeculativePlugin implements Plugin {
    @Override
    public List<DecoderFactory> decoders() {
        return List.of(new GreedyDecoder.Factory(), new SelfSpeculativeDecoder.Factory(), new EarlyExitDecoder.Factory());
    }
}
