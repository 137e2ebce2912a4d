package dev.manyfold.testkit;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.Tensors;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.adapter.AttachedAdapter;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.mask.MaskStrategy;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The contracts catch the mistakes plugin authors make. */
class ContractsTest {
    /** An adapter whose delta is detached from its parameter (a constant). */
    private static Adapter detached() {
        return new Adapter() {
            @Override
            public List<String> targets() {
                return List.of("**");
            }

            @Override
            public AttachedAdapter attach(String site, NDArray weight, NDManager parameters, long seed) {
                NDArray p = parameters.ones(new Shape(1));
                return new AttachedAdapter() {
                    @Override
                    public Map<String, NDArray> parameters() {
                        return Map.of("p", p);
                    }

                    @Override
                    public NDArray delta(NDArray w, int rows, int cols, NDManager manager) {
                        return manager.zeros(new Shape(rows, cols));
                    }
                };
            }
        };
    }

    @Test
    void anAdapterWhoseDeltaIgnoresItsParametersFailsTheDifferentiabilityRule() {
        assertThatThrownBy(() -> Contracts.adapter(detached(), 4, 6, true)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("no gradient reaches any parameter");
    }

    @Test
    void aMaskWithValuesOtherThanZeroAndOneFails() {
        MaskStrategy twos = new MaskStrategy() {
            @Override
            public List<String> targets() {
                return List.of("layers.**");
            }

            @Override
            public int updateEvery() {
                return 0;
            }

            @Override
            public boolean straightThrough() {
                return false;
            }

            @Override
            public NDArray computeMask(String site, NDArray weight, long step, NDManager manager) {
                return Tensors.own(manager, weight.onesLike().mul(2));
            }
        };
        assertThatThrownBy(() -> Contracts.mask(twos, Shapes.llama(1))).isInstanceOf(AssertionError.class)
                .hasMessageContaining("masks hold only 0 and 1");
    }

    @Test
    void aDecoderThatIgnoresEosFails() {
        Decoder ones = (model, prompt, max, onToken) -> {
            int[] out = new int[max];
            for (int i = 0; i < max; i++) {
                out[i] = i % 5;
                onToken.accept(out[i]);
            }
            return Generation.of(out, Map.of());
        };
        try (TinyLanguageModel tiny = new TinyLanguageModel(2, 1)) {
            assertThatThrownBy(() -> Contracts.decoder(ones, tiny)).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("with EOS 1 the decode gave");
        }
    }
}
