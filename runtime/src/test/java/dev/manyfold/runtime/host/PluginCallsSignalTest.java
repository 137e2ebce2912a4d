package dev.manyfold.runtime.host;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.decoder.Decoder;
import org.junit.jupiter.api.Test;

class PluginCallsSignalTest {
    static final class Stop extends HostSignal {
        private static final long serialVersionUID = 1L;

        Stop() {
            super("stop");
        }
    }

    /** A decoder that hands one token to the host's callback. */
    private static final Decoder DECODER = (model, prompt, max, onToken) -> {
        onToken.accept(1);
        return null;
    };

    @Test
    void aHostSignalThrownThroughPluginCodeReachesTheHostUnwrapped() {
        Decoder wrapped = PluginCalls.wrap(DECODER, "p", "decoder", "d");
        assertThatThrownBy(() -> wrapped.generate(null, new int[] {1}, 1, t -> {
            throw new Stop();
        })).isExactlyInstanceOf(Stop.class);
    }

    @Test
    void anyOtherExceptionFromPluginCodeNamesThePlugin() {
        Decoder wrapped = PluginCalls.wrap(DECODER, "p", "decoder", "d");
        assertThatThrownBy(() -> wrapped.generate(null, new int[] {1}, 1, t -> {
            throw new IllegalStateException("boom");
        })).isInstanceOf(PluginException.class).hasMessageContaining("decoder \"d\" of plugin [p]").hasMessageContaining("boom");
    }
}
