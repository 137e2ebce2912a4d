package dev.manyfold.runtime.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.manyfold.api.objective.Scalars;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * {@link Scalars}: a product or quotient by a constant keeps an exact gradient when the JVM
 * collects garbage between forward and backward (DJL's {@code mul(Number)} did not: its
 * scalar lives in a direct buffer that the collector frees while autograd still uses it).
 */
class ScalarOperandLifetimeTest {
    private static final int TERMS = 2000;

    /** d/dx of Σ over TERMS terms of op(x, 4), with garbage collected and freed native memory overwritten before backward. */
    private static float[] gradientAfterCollection(BiFunction<NDArray, Double, NDArray> op) throws InterruptedException {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.ones(new Shape(4));
            x.setRequiresGradient(true);
            try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
                NDArray sum = m.zeros(new Shape(4));
                for (int i = 0; i < TERMS; i++) {
                    sum = sum.add(op.apply(x, 4.0));
                }
                List<ByteBuffer> scribbles = scribbleFreedNativeMemory();
                c.backward(sum.sum());
                assertThat(scribbles).hasSize(2 * TERMS);
            }
            return x.getGradient().toFloatArray();
        }
    }

    /** Collects garbage, gives the cleaner time to free unreachable direct buffers, then fills new small native blocks with NaN bytes. */
    private static List<ByteBuffer> scribbleFreedNativeMemory() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        List<ByteBuffer> scribbles = new ArrayList<>();
        for (int i = 0; i < 2 * TERMS; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(4 << (i % 2));
            while (b.hasRemaining()) {
                b.put((byte) 0xFF);
            }
            scribbles.add(b);
        }
        return scribbles;
    }

    @Test
    void timesKeepsItsConstantForTheBackwardPassThroughAGarbageCollection() throws InterruptedException {
        assertThat(gradientAfterCollection(Scalars::times)).containsExactly(4f * TERMS, 4f * TERMS, 4f * TERMS, 4f * TERMS);
    }

    @Test
    void dividedByKeepsItsConstantForTheBackwardPassThroughAGarbageCollection() throws InterruptedException {
        assertThat(gradientAfterCollection(Scalars::dividedBy)).containsExactly(TERMS / 4f, TERMS / 4f, TERMS / 4f, TERMS / 4f);
    }

    @Test
    void timesAndDividedByKeepTheArraysDataType() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(new double[] {1.5, -3});
            assertThat(Scalars.times(x, 2).toDoubleArray()).containsExactly(3, -6);
            assertThat(Scalars.dividedBy(x, 2).toDoubleArray()).containsExactly(0.75, -1.5);
            assertThat(Scalars.times(x, 2).getDataType()).isEqualTo(x.getDataType());
        }
    }
}
