package dev.manyfold.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

/** Assigning keeps working for non-float tensors (an adapter's int64 index buffer restored on resume). */
class ParameterStoreAssignTest {
    @Test
    void int64BuffersAreAssignedExactly() {
        try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m, 1)) {
            store.add("adapters.0.q.omega", m.create(new long[] {0, 0, 0}), false);
            store.assign("adapters.0.q.omega", m.create(new long[] {3, 17, 1L << 40}));
            assertThat(store.get("adapters.0.q.omega").toLongArray()).containsExactly(3, 17, 1L << 40);
            store.add("w", m.create(new float[] {0, 0}), true);
            store.assign("w", m.create(new float[] {1.5f, -2f}));
            assertThat(store.get("w").toFloatArray()).containsExactly(1.5f, -2f);
        }
    }
}
