import dev.manyfold.runtime.data.Split;
import dev.manyfold.runtime.data.TextCorpus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * How repetitive a model's greedy text is (docs/results.md, "On-policy distilled draft exits").
 * A single-file program, run from the repository root after packaging:
 *
 * <pre>
 * java -cp 'bundles/target/manyfold/lib/*' examples/soft-long/Repetition.java prompts /tmp/val-prompts.txt
 * manyfold generate runs/deep-soft4 --engine onnxruntime --prompts-file /tmp/val-prompts.txt --max-new-tokens 128 -o /tmp/ds4.txt
 * java -cp 'bundles/target/manyfold/lib/*' examples/soft-long/Repetition.java measure /tmp/ds4.txt [more files]
 * </pre>
 *
 * {@code prompts}: the first 16 characters (tabs and newlines as spaces) of every validation
 * document of 32+ ASCII characters of the soft-long fine-tuning text, split as the deep-soft
 * recipes split it (files computers, linux, linuxcookie, perl, debian; validation 0.1; seed 3).
 * {@code measure}: for each generated file (%-separated texts, each a 16-character prompt and its
 * continuation), the distinct word trigrams over all word trigrams of each continuation, pooled,
 * and the share of continuation characters whose preceding 16 characters already occurred
 * earlier in the same continuation.
 */
public class Repetition {
    private static final int PROMPT = 16;

    public static void main(String[] args) throws Exception {
        if (args.length >= 2 && args[0].equals("prompts")) {
            TextCorpus corpus = TextCorpus.read(TextCorpus.DEFAULT_PATH, List.of("computers", "linux", "linuxcookie", "perl", "debian"));
            Split<int[]> split = Split.indices(corpus.size(), 0.1, 3);
            StringBuilder out = new StringBuilder();
            int n = 0;
            for (String d : corpus.select(split.validation())) {
                String flat = d.replaceAll("[\t\n]", " ");
                if (flat.length() >= 2 * PROMPT && flat.chars().allMatch(c -> c < 128)) {
                    out.append(flat, 0, PROMPT).append('\n');
                    n++;
                }
            }
            Files.writeString(Path.of(args[1]), out);
            System.out.println(n + " prompts written to " + args[1]);
        } else if (args.length >= 2 && args[0].equals("measure")) {
            for (int i = 1; i < args.length; i++) {
                measure(Path.of(args[i]));
            }
        } else {
            System.err.println("usage: Repetition prompts OUT | Repetition measure FILE...");
            System.exit(2);
        }
    }

    private static void measure(Path file) throws Exception {
        long distinct = 0;
        long trigrams = 0;
        long repeated = 0;
        long chars = 0;
        int texts = 0;
        for (String text : TextCorpus.parseDocuments(Files.readString(file))) {
            String g = text.length() > PROMPT ? text.substring(PROMPT) : "";
            String[] words = g.trim().isEmpty() ? new String[0] : g.trim().split("\\s+");
            Set<String> seen = new HashSet<>();
            List<String> all = new ArrayList<>();
            for (int w = 0; w + 2 < words.length; w++) {
                String t = words[w] + " " + words[w + 1] + " " + words[w + 2];
                all.add(t);
                seen.add(t);
            }
            distinct += seen.size();
            trigrams += Math.max(1, all.size());
            for (int c = PROMPT; c < g.length(); c++) {
                chars++;
                if (g.substring(0, c - 1).contains(g.substring(c - PROMPT, c))) {
                    repeated++;
                }
            }
            texts++;
        }
        System.out.printf(Locale.ROOT, "%s: %d texts, distinct trigrams %.3f, repeated %.3f%n", file, texts, (double) distinct / trigrams,
                (double) repeated / Math.max(1, chars));
    }
}
