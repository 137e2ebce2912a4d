import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;

/** Session open cost: the first open composes the weights, later ones share them; and a fork vs re-running a prefix. */
public class OpenBench {
    public static void main(String[] args) {
        try (NDManager m = NDManager.newBaseManager()) {
            // The 8-layer SoFT model's shape (docs/results.md): dim 256, 8 heads (4 KV), ffn 688, vocab 260, context 256.
            LlamaModel model = new LlamaModel(new ParameterStore(m, 1), new LlamaModel.Config(260, 256, 8, 8, 4, 32, 688, 256, false, 10000, 1e-5, -1));
            int n = 30;
            long t0 = System.nanoTime();
            try (InferenceSession s = model.open(m)) { }
            double first = (System.nanoTime() - t0) / 1e6;
            double[] later = new double[n];
            for (int i = 0; i < n; i++) {
                long t = System.nanoTime();
                try (InferenceSession s = model.open(m)) { }
                later[i] = (System.nanoTime() - t) / 1e6;
            }
            java.util.Arrays.sort(later);
            double[] compose = new double[5];
            for (int i = 0; i < compose.length; i++) {
                model.parameters().touch(); // as after an optimiser step: the next open composes again
                long t = System.nanoTime();
                try (InferenceSession s = model.open(m)) { }
                compose[i] = (System.nanoTime() - t) / 1e6;
            }
            java.util.Arrays.sort(compose);
            int[] prefix = new int[40];
            for (int i = 0; i < prefix.length; i++) prefix[i] = (i * 7) % 260;
            double[] rerun = new double[n];
            double[] fork = new double[n];
            try (InferenceSession s = model.open(m)) {
                try (NDManager step = m.newSubManager()) { s.run(s.embed(prefix, 0, step), 0, 8, 0, step); }
                for (int i = 0; i < n; i++) {
                    long t = System.nanoTime();
                    try (InferenceSession f = s.fork()) { }
                    fork[i] = (System.nanoTime() - t) / 1e6;
                    t = System.nanoTime();
                    try (InferenceSession o = model.open(m); NDManager step = m.newSubManager()) { o.run(o.embed(prefix, 0, step), 0, 8, 0, step); }
                    rerun[i] = (System.nanoTime() - t) / 1e6;
                }
            }
            java.util.Arrays.sort(fork);
            java.util.Arrays.sort(rerun);
            System.out.printf("first open (composes weights): %.2f ms%n", first);
            System.out.printf("open that composes (after touch), median of 5: %.2f ms; later open (shared weights), median of %d: %.3f ms -> %.0fx cheaper%n",
                    compose[2], n, later[n / 2], compose[2] / later[n / 2]);
            System.out.printf("fork of a 40-position cache, median: %.3f ms; open + re-run the 40-position prefix, median: %.3f ms -> %.1fx%n",
                    fork[n / 2], rerun[n / 2], rerun[n / 2] / fork[n / 2]);
        }
    }
}
