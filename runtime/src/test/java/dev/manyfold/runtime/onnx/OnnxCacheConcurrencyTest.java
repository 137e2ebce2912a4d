package dev.manyfold.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import dev.manyfold.runtime.model.LlamaModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several writers exporting the same run's ONNX cache at once (Spark executors sharing a run
 * directory): threads of one JVM and separate processes. Each graph and the stamp appear
 * complete or not at all to a reader polling the directory throughout, every writer ends with
 * loadable sessions, and no temporary file is left behind.
 */
class OnnxCacheConcurrencyTest {
    @TempDir
    Path dir;

    /** What every graph file of the cache must hold once it exists: the bytes one export writes. */
    private static Map<String, byte[]> expected(LlamaModel model, Path checkpoint) {
        LlamaGraphs graphs = OnnxExport.graphs(model, "bytes", checkpoint.toString());
        Map<String, byte[]> out = new TreeMap<>();
        for (GraphKey k : keys(model)) {
            out.put(k.fileName(), graphs.build(k));
        }
        return out;
    }

    /** A small LLaMA (3 layers, exits 1-3) initialised from a seed: the same weights in every process. */
    static LlamaModel model(NDManager m) {
        LlamaModel model = new LlamaModel(new dev.manyfold.runtime.model.ParameterStore(m, 11), OrtEngineParityTest.CONFIG);
        model.setExits(List.of(1, 2, 3));
        return model;
    }

    static List<GraphKey> keys(LlamaModel model) {
        return OnnxExport.standardKeys(model.layers(), model.exits(), null);
    }

    /** Exports (or finds) every graph of the cache through the engine, then loads each in ONNX Runtime. */
    static void exportAll(LlamaModel model, Path checkpoint) {
        try (OrtLanguageModel ort = (OrtLanguageModel) Engines.on(model, checkpoint, "bytes", Engines.ONNXRUNTIME)) {
            for (GraphKey k : keys(model)) {
                assertThat(ort.has(k)).as(k.fileName()).isTrue();
                assertThat(ort.session(k)).as(k.fileName()).isNotNull();
            }
        }
    }

    /** Polls the cache until stopped, recording any graph or stamp that is not complete. */
    private static Runnable reader(Path cache, Map<String, byte[]> graphs, String stamp, AtomicBoolean stop, ConcurrentLinkedQueue<String> bad,
            int[] reads) {
        return () -> {
            while (!stop.get()) {
                try (Stream<Path> files = Files.list(cache)) {
                    for (Path f : files.toList()) {
                        String name = f.getFileName().toString();
                        byte[] want = name.equals(Engines.STAMP) ? stamp.getBytes(java.nio.charset.StandardCharsets.UTF_8) : graphs.get(name);
                        if (want == null) {
                            continue; // a temporary file or the lock file: hidden names, never read as a graph
                        }
                        try {
                            byte[] got = Files.readAllBytes(f);
                            reads[0]++;
                            if (!Arrays.equals(got, want)) {
                                bad.add(name + ": " + got.length + " bytes, expected " + want.length);
                            }
                        } catch (NoSuchFileException gone) {
                            // listed, then replaced by a rename between list and read: fine
                        }
                    }
                } catch (NoSuchFileException notYet) {
                    // the cache directory is created by the first writer
                } catch (IOException e) {
                    bad.add("reader: " + e);
                }
            }
        };
    }

    private static void assertNoLeftovers(Path cache, Map<String, byte[]> graphs) throws IOException {
        try (Stream<Path> files = Files.list(cache)) {
            List<String> names = files.map(f -> f.getFileName().toString()).filter(n -> !n.equals(CacheLock.FILE)).sorted().toList();
            assertThat(names).noneMatch(n -> n.endsWith(".tmp"));
            List<String> want = new ArrayList<>(graphs.keySet());
            want.add(Engines.STAMP);
            assertThat(names).containsExactlyInAnyOrderElementsOf(want);
        }
        for (Map.Entry<String, byte[]> g : graphs.entrySet()) {
            assertThat(Files.readAllBytes(cache.resolve(g.getKey()))).as(g.getKey()).isEqualTo(g.getValue());
        }
    }

    @Test
    void threadsExportingTheSameCacheAtOnceLeaveOnlyCompleteGraphsThatAReaderNeverSeesPartial() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = model(m);
            Path checkpoint = Files.writeString(dir.resolve("checkpoint-1.safetensors"), "stand-in");
            Path cache = Engines.cacheDir(checkpoint);
            Map<String, byte[]> graphs = expected(model, checkpoint);
            String stamp = Engines.stamp(checkpoint);
            AtomicBoolean stop = new AtomicBoolean();
            ConcurrentLinkedQueue<String> bad = new ConcurrentLinkedQueue<>();
            int[] reads = {0};
            int writers = 4;
            ExecutorService pool = Executors.newFixedThreadPool(writers + 1);
            try {
                // Rounds from an empty cache: each round, every writer finds graphs missing at the same moment.
                for (int round = 0; round < 5; round++) {
                    if (Files.isDirectory(cache)) {
                        try (Stream<Path> files = Files.list(cache)) {
                            for (Path f : files.toList()) {
                                Files.delete(f);
                            }
                        }
                    }
                    stop.set(false);
                    Future<?> polling = pool.submit(reader(cache, graphs, stamp, stop, bad, reads));
                    CountDownLatch start = new CountDownLatch(1);
                    List<Future<?>> done = new ArrayList<>();
                    for (int i = 0; i < writers; i++) {
                        done.add(pool.submit(() -> {
                            start.await();
                            exportAll(model, checkpoint);
                            return null;
                        }));
                    }
                    start.countDown();
                    for (Future<?> f : done) {
                        f.get(120, TimeUnit.SECONDS);
                    }
                    stop.set(true);
                    polling.get(30, TimeUnit.SECONDS);
                    assertThat(bad).as("partial files seen by the reader in round " + round).isEmpty();
                    assertNoLeftovers(cache, graphs);
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(reads[0]).as("the reader read files while the writers ran").isPositive();
        }
    }

    @Test
    void processesExportingTheSameCacheAtOnceLeaveOnlyCompleteGraphsThatAReaderNeverSeesPartial() throws Exception {
        Path checkpoint = Files.writeString(dir.resolve("checkpoint-1.safetensors"), "stand-in");
        Path cache = Engines.cacheDir(checkpoint);
        Map<String, byte[]> graphs;
        try (NDManager m = NDManager.newBaseManager()) {
            graphs = expected(model(m), checkpoint);
        }
        String stamp = Engines.stamp(checkpoint);
        int writers = 3;
        Path go = dir.resolve("go");
        List<Process> children = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (int i = 0; i < writers; i++) {
            Path log = dir.resolve("writer-" + i + ".log");
            logs.add(log);
            children.add(new ProcessBuilder(java, "-Dai.djl.offline=true", "-Xmx1g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                    System.getProperty("java.class.path"), CacheWriter.class.getName(), checkpoint.toString(), go.toString(),
                    dir.resolve("ready-" + i).toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start());
        }
        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<String> bad = new ConcurrentLinkedQueue<>();
        int[] reads = {0};
        Thread polling = new Thread(reader(cache, graphs, stamp, stop, bad, reads));
        try {
            // Start together: each child loads its model, says ready, and waits for the go file.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            for (int i = 0; i < writers; i++) {
                while (!Files.exists(dir.resolve("ready-" + i))) {
                    assertThat(children.get(i).isAlive() || Files.exists(dir.resolve("ready-" + i))).as(Files.exists(logs.get(i))
                            ? Files.readString(logs.get(i)) : "writer " + i + " exited").isTrue();
                    assertThat(System.nanoTime()).as("writers ready within 120 s").isLessThan(deadline);
                    Thread.sleep(20);
                }
            }
            polling.start();
            Files.writeString(go, "go");
            for (int i = 0; i < writers; i++) {
                assertThat(children.get(i).waitFor(120, TimeUnit.SECONDS)).as("writer " + i + " finished").isTrue();
                assertThat(children.get(i).exitValue()).as(Files.readString(logs.get(i))).isZero();
                assertThat(Files.readString(logs.get(i))).contains("exported and loaded " + graphs.size() + " graphs");
            }
        } finally {
            stop.set(true);
            polling.join(30_000);
            children.forEach(Process::destroyForcibly);
        }
        assertThat(bad).as("partial files seen by the reader").isEmpty();
        assertThat(reads[0]).as("the reader read files while the writers ran").isPositive();
        assertNoLeftovers(cache, graphs);
    }

    /** One writer process: the same model as the test's, exporting the whole cache once the go file appears. */
    public static final class CacheWriter {
        public static void main(String[] args) throws Exception {
            Path checkpoint = Path.of(args[0]);
            Path go = Path.of(args[1]);
            try (NDManager m = NDManager.newBaseManager()) {
                LlamaModel model = model(m);
                OnnxExport.graphs(model, "bytes", checkpoint.toString()); // warm up: the timed part is the export itself
                Files.writeString(Path.of(args[2]), "ready");
                while (!Files.exists(go)) {
                    Thread.sleep(5);
                }
                exportAll(model, checkpoint);
                System.out.println("exported and loaded " + keys(model).size() + " graphs");
            }
        }
    }
}
