package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.builtin.LastTokenObjective;
import dev.manyfold.runtime.data.InstructionData;
import dev.manyfold.runtime.data.TextCorpus;
import dev.manyfold.runtime.data.Tokenizer;
import dev.manyfold.runtime.eval.Paired;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.recipe.Recipe;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * DSEE's claim as the paper measures it (issue 15, point 8): classification accuracy after
 * parameter-efficient tuning of a pre-trained model. A tiny LLaMA is pre-trained on the whole
 * fortunes corpus except the held-out test quotes, then tuned (adapters only, W0 and the head
 * frozen) to say which fortunes file a quote comes from, with the {@code last-token}
 * objective (K-way cross-entropy at the prompt's last token). Arms: LoRA at r = 1 and r = 2,
 * DSEE r = 1 + N = 128 (the same trainable count as LoRA r = 2) with Ω from GreBsmo (plugin
 * settings and the authors' λ = 0.01 without the residual safeguard), magnitude and random,
 * and the paper's own protocol (LoRA r = 1 plus N = 16). Paired seeds; accuracy on the same
 * held-out quotes for every arm. Not part of {@code mvn verify}; run by
 * {@code examples/dsee-classify/run.sh}, which splices {@code target/claims/dsee-classify.md}
 * into docs/results.md.
 */
class DseeClassifyExperiment {
    static final List<String> CLASSES = List.of("computers", "definitions", "politics", "science", "songs-poems");
    static final int TEST_PER_CLASS = Integer.getInteger("dsee.classify.test", 100);
    static final int TRAIN_PER_CLASS = Integer.getInteger("dsee.classify.train", 400);
    static final int QUOTE_BYTES = 100;
    static final int CONTEXT = 112;
    static final String TEMPLATE = "custom {instruction}\n#";
    static final String MODEL = "model: { family: llama, dim: 64, layers: 2, heads: 4, ffn: 128 }\n";

    static final Map<String, String> ARMS = new LinkedHashMap<>();

    static {
        ARMS.put("LoRA r=1", "{ type: lora, rank: 1 }");
        ARMS.put("LoRA r=2", "{ type: lora, rank: 2 }");
        ARMS.put("DSEE r=1 N=128 GreBsmo", "{ type: dsee, rank: 1, sparse: 128 }");
        ARMS.put("DSEE r=1 N=128 GreBsmo (authors)",
                "{ type: dsee, rank: 1, sparse: 128, grebsmo: { lambda: 0.01, safeguard: false } }");
        ARMS.put("DSEE r=1 N=128 magnitude", "{ type: dsee, rank: 1, sparse: 128, support: magnitude }");
        ARMS.put("DSEE r=1 N=128 random", "{ type: dsee, rank: 1, sparse: 128, support: random }");
        ARMS.put("DSEE r=1 N=16 GreBsmo", "{ type: dsee, rank: 1, sparse: 16 }");
    }

    /** Trainable parameters per adapted 64 × 64 matrix: (m + n)·r + N. */
    static int perMatrix(String arm) {
        int r = arm.contains("r=2") ? 2 : 1;
        Matcher n = Pattern.compile("N=(\\d+)").matcher(arm);
        return 128 * r + (n.find() ? Integer.parseInt(n.group(1)) : 0);
    }

    record Example(String quote, int label) {}

    record Data(Path corpus, Path train, List<Example> test) {}

    @Test
    void loraAgainstDseeAtMatchedTrainableParametersOnHeldOutQuotes() throws Exception {
        int[] seeds = Arrays.stream(System.getProperty("dsee.classify.seeds", "1,2,3,4,5,6,7,8").split(","))
                .mapToInt(x -> Integer.parseInt(x.trim())).toArray();
        int pretrainSteps = Integer.getInteger("dsee.classify.pretrain", 1500);
        int steps = Integer.getInteger("dsee.classify.steps", 200);
        String lr = System.getProperty("dsee.classify.lr", "1e-2");
        Path root = Files.createDirectories(Path.of("target", "dsee-classify"));
        Data data = prepareData(root);
        long t0 = System.nanoTime();
        Map<String, double[]> accuracy = new LinkedHashMap<>();
        Map<String, int[]> grebsmo = new LinkedHashMap<>(); // solves, fired / rose, rising iterations
        double baseAccuracy;
        double pretrainLoss;
        try (Manyfold host = Claims.host()) {
            Path pretrained = root.resolve("pretrain-" + pretrainSteps);
            String pre = MODEL + "data: { type: text, path: \"" + data.corpus() + "\", context: 128, validation: 0.02 }\n"
                    + String.format(Locale.ROOT, "train: { steps: %d, batch: 16, lr: 5e-3, warmup: 20, seed: 1, eval-every: 0 }%n",
                            pretrainSteps);
            StringWriter preLog = new StringWriter();
            try (Run p = TrainJob.prepare(host, Recipe.parse(pre, "pretrain.yaml"), new PrintWriter(preLog, true),
                    root.resolve("work-pretrain"))) {
                if (!Files.exists(pretrained.resolve("DONE"))) {
                    TrainJob.train(p, pretrained, false, new PrintWriter(preLog, true), false);
                    Files.writeString(pretrained.resolve("DONE"), "");
                }
            }
            try (Run p = TrainJob.load(host, pretrained, new PrintWriter(new StringWriter()))) {
                pretrainLoss = dev.manyfold.runtime.train.Evaluator.evaluate(p.model(), p.data().validation(20), SubModel.FULL,
                        p.model().parameters().manager()).loss();
            }
            try (Run p = TrainJob.prepare(host, Recipe.parse(tune(data, pretrained, "{ type: lora, rank: 1 }", 1, 1, lr),
                    "base.yaml"), new PrintWriter(new StringWriter()), root.resolve("work-base"))) {
                baseAccuracy = accuracy(p, data.test());
            }
            for (var arm : ARMS.entrySet()) {
                double[] acc = new double[seeds.length];
                int[] counts = new int[4];
                for (int s = 0; s < seeds.length; s++) {
                    StringWriter log = new StringWriter();
                    String recipe = tune(data, pretrained, arm.getValue(), seeds[s], steps, lr);
                    Path work = root.resolve("work-" + Integer.toHexString(arm.getKey().hashCode()) + "-" + seeds[s]);
                    try (Run p = TrainJob.prepare(host, Recipe.parse(recipe, "tune.yaml"), new PrintWriter(log, true), work)) {
                        TrainJob.train(p, work.resolve("run"), false, new PrintWriter(new StringWriter()), false);
                        acc[s] = accuracy(p, data.test());
                    }
                    for (String line : log.toString().split("\n")) {
                        if (line.contains("GreBsmo rank")) {
                            counts[0]++;
                            counts[1] += line.contains("safeguard fired") ? 1 : 0;
                            Matcher m = Pattern.compile("residual rose in (\\d+) iterations").matcher(line);
                            if (m.find()) {
                                counts[1] += Integer.parseInt(m.group(1)) > 0 ? 1 : 0;
                                counts[2] += Integer.parseInt(m.group(1));
                            }
                            Matcher it = Pattern.compile("after (\\d+) iterations").matcher(line);
                            if (it.find()) {
                                counts[3] += Integer.parseInt(it.group(1));
                            }
                        }
                    }
                    System.out.printf(Locale.ROOT, "%s seed %d: accuracy %.4f%n", arm.getKey(), seeds[s], acc[s]);
                }
                accuracy.put(arm.getKey(), acc);
                if (counts[0] > 0) {
                    grebsmo.put(arm.getKey(), counts);
                }
            }
        }
        double minutes = (System.nanoTime() - t0) / 6e10;
        String md = report(seeds, pretrainSteps, steps, lr, pretrainLoss, baseAccuracy, accuracy, grebsmo, data, minutes);
        Path file = Files.createDirectories(Path.of("target", "claims")).resolve("dsee-classify.md");
        Files.writeString(file, md);
        System.out.println(md);
        for (double[] a : accuracy.values()) {
            assertThat(Paired.of(a, fill(baseAccuracy, a.length)).above()).as("every arm learns the task beyond noise").isTrue();
        }
    }

    static double[] fill(double v, int n) {
        double[] a = new double[n];
        Arrays.fill(a, v);
        return a;
    }

    static String tune(Data data, Path pretrained, String adapter, int seed, int steps, String lr) {
        return MODEL + "data: { type: instructions, path: \"" + data.train() + "\", template: \"" + TEMPLATE.replace("\n", "\\n")
                + "\", context: " + CONTEXT + ", validation: 0.05 }\n" + "adapters: [ " + adapter + " ]\n"
                + "objective: { type: last-token, classes: " + classTokens() + " }\n"
                + String.format(Locale.ROOT, "train: { init: \"%s\", steps: %d, batch: 16, lr: %s, warmup: %d, seed: %d, eval-every: 0,"
                        + " trainable: [\"adapters.**\"] }%n", pretrained, steps, lr, Math.min(10, steps - 1), seed);
    }

    /** "A", "B", ... as byte-tokenizer ids. */
    static List<Integer> classTokens() {
        List<Integer> ids = new ArrayList<>();
        for (int c = 0; c < CLASSES.size(); c++) {
            ids.add((int) 'A' + c);
        }
        return ids;
    }

    /** Held-out accuracy: the largest of the K class logits at the prompt's last token. */
    static double accuracy(Run p, List<Example> test) {
        return accuracy(p, test, CONTEXT, classTokens().stream().mapToLong(Integer::longValue).toArray());
    }

    /**
     * As {@link #accuracy(Run, List)} with rows of {@code context} positions (the
     * prompt must fit) and the class token ids (label i is {@code classes[i]}).
     */
    static double accuracy(Run p, List<Example> test, int context, long[] classes) {
        Tokenizer tokenizer = p.data().tokenizer().orElseThrow();
        int correct = 0;
        int batch = 50;
        for (int start = 0; start < test.size(); start += batch) {
            List<Example> part = test.subList(start, Math.min(test.size(), start + batch));
            long[] inputs = new long[part.size() * context];
            long[] labels = new long[part.size() * context];
            Arrays.fill(inputs, tokenizer.eosToken());
            Arrays.fill(labels, InstructionData.IGNORE);
            for (int r = 0; r < part.size(); r++) {
                int[] prompt = tokenizer.encode(InstructionData.prompt(TEMPLATE, part.get(r).quote(), ""));
                for (int t = 0; t < prompt.length; t++) {
                    inputs[r * context + t] = prompt[t];
                }
                labels[r * context + prompt.length - 1] = classes[part.get(r).label()];
            }
            try (NDManager m = p.model().parameters().manager().newSubManager()) {
                NDArray x = m.create(inputs, new Shape(part.size(), context));
                NDArray y = m.create(labels, new Shape(part.size(), context));
                correct += LastTokenObjective.correct(LastTokenObjective.pick(p.model().forward(x, SubModel.FULL), y, classes));
            }
        }
        return (double) correct / test.size();
    }

    /** The quote as the classifier sees it: whitespace runs collapsed, at most {@link #QUOTE_BYTES} UTF-8 bytes. */
    static String clip(String quote) {
        String q = quote.strip().replaceAll("\\s+", " ");
        StringBuilder b = new StringBuilder();
        int bytes = 0;
        for (int i = 0; i < q.length(); ) {
            int cp = q.codePointAt(i);
            int n = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + n > QUOTE_BYTES) {
                break;
            }
            b.appendCodePoint(cp);
            bytes += n;
            i += Character.charCount(cp);
        }
        return b.toString();
    }

    /**
     * The classification split (fixed seed 7): per class file, {@link #TEST_PER_CLASS} held-out
     * test quotes and {@link #TRAIN_PER_CLASS} training quotes; the pre-training corpus is every
     * fortunes file without the test quotes.
     */
    static Data prepareData(Path root) throws IOException {
        Map<String, Path> files = TextCorpus.files(TextCorpus.DEFAULT_PATH, List.of());
        Set<String> held = new HashSet<>();
        List<Example> test = new ArrayList<>();
        List<Example> train = new ArrayList<>();
        for (int c = 0; c < CLASSES.size(); c++) {
            Path file = files.get(CLASSES.get(c));
            assertThat(file).as("fortunes file %s", CLASSES.get(c)).isNotNull();
            List<String> docs = new ArrayList<>(new java.util.LinkedHashSet<>(TextCorpus.parseDocuments(Files.readString(file))));
            Collections.shuffle(docs, new Random(7 + c));
            for (int i = 0; i < docs.size() && i < TEST_PER_CLASS + TRAIN_PER_CLASS; i++) {
                if (i < TEST_PER_CLASS) {
                    held.add(docs.get(i));
                    test.add(new Example(clip(docs.get(i)), c));
                } else {
                    train.add(new Example(clip(docs.get(i)), c));
                }
            }
        }
        StringBuilder corpus = new StringBuilder();
        int kept = 0;
        int total = 0;
        for (Path file : files.values()) {
            for (String doc : TextCorpus.parseDocuments(Files.readString(file))) {
                total++;
                if (!held.contains(doc)) {
                    corpus.append(doc).append("\n%\n");
                    kept++;
                }
            }
        }
        Path corpusFile = root.resolve("fortunes-without-test");
        Files.writeString(corpusFile, corpus.toString());
        ObjectMapper json = new ObjectMapper();
        StringBuilder lines = new StringBuilder();
        for (Example e : train) {
            lines.append(json.writeValueAsString(Map.of("instruction", e.quote(), "output", String.valueOf((char) ('A' + e.label())))))
                    .append('\n');
        }
        Path trainFile = root.resolve("train.jsonl");
        Files.writeString(trainFile, lines.toString());
        StringBuilder testLines = new StringBuilder();
        for (Example e : test) {
            testLines.append(json.writeValueAsString(Map.of("instruction", e.quote(), "output", String.valueOf((char) ('A' + e.label())))))
                    .append('\n');
        }
        Files.writeString(root.resolve("test.jsonl"), testLines.toString());
        System.out.printf(Locale.ROOT, "classification data: %d train, %d test quotes; pre-training corpus %d of %d documents%n",
                train.size(), test.size(), kept, total);
        return new Data(corpusFile, trainFile, test);
    }

    static String report(int[] seeds, int pretrainSteps, int steps, String lr, double pretrainLoss, double base,
            Map<String, double[]> accuracy, Map<String, int[]> grebsmo, Data data, double minutes) {
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "Seeds %s; %d classes (%s), %d test quotes (%d per class, never seen in pre-training),"
                + " %d training quotes; tiny LLaMA dim 64, 2 layers, 4 heads, ffn 128, byte tokens, pre-trained %d steps (held-out"
                + " loss %.4f nats/byte); tuning %d steps, batch 16, lr %s (cosine, 10 warm-up), adapters on Wq and Wv (4 matrices"
                + " of 64 × 64), W0 and the head frozen; chance %.1f%%, the untuned model %.1f%%. %.0f min wall.%n%n",
                Arrays.toString(seeds), CLASSES.size(), String.join(", ", CLASSES), data.test().size(), TEST_PER_CLASS,
                TRAIN_PER_CLASS * CLASSES.size(), pretrainSteps, pretrainLoss, steps, lr, 100.0 / CLASSES.size(), 100 * base, minutes));
        md.append("| arm | trainable per matrix | accuracy % (mean ± s.e.) | per seed |\n|---|---|---|---|\n");
        for (var e : accuracy.entrySet()) {
            Paired self = Paired.ofDifferences(e.getValue());
            md.append(String.format(Locale.ROOT, "| %s | %d | %.2f ± %.2f | %s |%n", e.getKey(), perMatrix(e.getKey()), 100 * self.mean(),
                    100 * self.standardError(), Arrays.stream(e.getValue()).mapToObj(v -> String.format(Locale.ROOT, "%.1f", 100 * v))
                            .collect(java.util.stream.Collectors.joining(" "))));
        }
        md.append("\nPaired differences (accuracy points, 95% t interval over the seeds; an ordering only where it excludes zero):\n\n");
        md.append("| comparison | Δ | ordering |\n|---|---|---|\n");
        String[][] pairs = {
            {"DSEE r=1 N=128 GreBsmo", "LoRA r=2", "matched trainable parameters"},
            {"DSEE r=1 N=128 GreBsmo (authors)", "LoRA r=2", "matched, authors' GreBsmo"},
            {"DSEE r=1 N=128 magnitude", "LoRA r=2", "matched"},
            {"DSEE r=1 N=128 random", "LoRA r=2", "matched"},
            {"DSEE r=1 N=128 GreBsmo", "DSEE r=1 N=128 magnitude", "Ω ablation"},
            {"DSEE r=1 N=128 GreBsmo", "DSEE r=1 N=128 random", "Ω ablation"},
            {"DSEE r=1 N=128 GreBsmo (authors)", "DSEE r=1 N=128 GreBsmo", "authors' settings against the plugin's"},
            {"DSEE r=1 N=16 GreBsmo", "LoRA r=1", "the paper's protocol: LoRA + 16 sparse"},
            {"LoRA r=2", "LoRA r=1", "capacity"},
        };
        for (String[] pair : pairs) {
            Paired d = Paired.of(accuracy.get(pair[0]), accuracy.get(pair[1]));
            md.append(String.format(Locale.ROOT, "| %s − %s (%s) | %s | %s |%n", pair[0], pair[1], pair[2], d.describe(100, 2),
                    d.above() ? "higher, beyond noise" : d.below() ? "lower, beyond noise" : "not separated from zero"));
        }
        md.append("\nGreBsmo on the pre-trained Wq, Wv (one solve per matrix and seed; the random start depends on the seed):\n\n");
        md.append("| arm | solves | safeguard fired / residual rose | rising iterations kept | iterations |\n|---|---|---|---|---|\n");
        for (var e : grebsmo.entrySet()) {
            int[] c = e.getValue();
            md.append(String.format(Locale.ROOT, "| %s | %d | %d | %s | %d |%n", e.getKey(), c[0], c[1],
                    e.getKey().contains("authors") ? String.valueOf(c[2]) : "— (safeguard on)", c[3]));
        }
        return md.toString();
    }
}
