package dev.manyfold.runtime.host;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.decoder.Decoder;
import org.junit.jupiter.api.Test;

/** An exception the host throws from a callback (serve cancelling a decode) reaches the host unwrapped; plugin failures are named. */
class PluginCallsHostSignalTest {
    /** Stands in for serve's cancellation: a runtime exception type a plugin cannot see. */
    static final class HostCancelled extends RuntimeException {
        private static final long serialVersionUID = 1L;

        HostCancelled() {
            super("shutdown");
        }
    }

    /** Calls the token callback once, as every decoder does. */
    private static final Decoder CALLS_BACK = (model, prompt, max, onToken) -> {
        onToken.accept(7);
        return null;
    };

    @Test
    void aHostCallbacksExceptionPassesThroughTheProxyUnchanged() {
        Decoder wrapped = PluginCalls.wrap(CALLS_BACK, "speculative", "decoder", "greedy");
        assertThatThrownBy(() -> wrapped.generate(null, new int[] {1}, 4, t -> {
            throw new HostCancelled();
        })).isInstanceOf(HostCancelled.class).hasMessage("shutdown");
    }

    @Test
    void aPluginsOwnFailureIsStillNamedWithPluginAndFactory() {
        Decoder wrapped = PluginCalls.wrap(CALLS_BACK, "speculative", "decoder", "greedy");
        assertThatThrownBy(() -> wrapped.generate(null, new int[] {1}, 4, t -> {
            throw new IllegalStateException("boom");
        })).isInstanceOf(PluginException.class).hasMessageContaining("decoder \"greedy\" of plugin [speculative]");
    }
}
