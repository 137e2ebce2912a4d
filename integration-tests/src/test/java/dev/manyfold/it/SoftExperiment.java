package dev.manyfold.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import dev.manyfold.runtime.host.Manyfold;
import org.junit.jupiter.api.Test;

/**
 * Sorted LLaMA fidelity, round 2 (issue 15, points 6, 7 and 12): SFT, SoFT, SFT+ICT and the
 * extracted fine-tuning baseline on the held-out technical fortunes over paired seeds, with
 * KL / cosine per token position; then SoFT against SFT on instruction data with the loss on
 * answers only (the paper's Alpaca setting). Not part of {@code mvn verify} (no surefire
 * include pattern matches); {@code examples/soft-fidelity/run.sh} runs it at {@code nice -n 19}
 * and splices {@code target/claims/soft-fidelity.md} into docs/results.md (one part alone:
 * {@code soft-fidelity-PART.md}). Properties:
 * {@code soft.seeds} (default 2,3,4,5,6), {@code soft.dir} (runs, reused when present;
 * default {@code target/soft-experiment}), {@code soft.instructions} (the JSONL, default
 * examples/hf/fortunes-instructions.jsonl), {@code soft.parts} ({@code text,instructions}),
 * {@code soft.extracted} (depths of the extracted fine-tuning arms, default 2,3,4,5; empty: none),
 * {@code soft.ict-steps} (SFT+ICT steps, default 150; 0: no ICT arm). Arms train in this JVM
 * (no launcher time limit).
 */
class SoftExperiment {
    @Test
    void softAgainstItsBaselinesOverPairedSeeds() throws IOException {
        long[] seeds = Arrays.stream(System.getProperty("soft.seeds", "2,3,4,5,6").split(",")).mapToLong(s -> Long.parseLong(s.trim()))
                .toArray();
        Path root = Path.of(System.getProperty("soft.dir", "target/soft-experiment")).toAbsolutePath();
        Path jsonl = Path.of(System.getProperty("soft.instructions", SoftRuns.fortunesInstructions().toString())).toAbsolutePath();
        List<String> parts = List.of(System.getProperty("soft.parts", "text,instructions").split(","));
        List<Integer> extracted = Arrays.stream(System.getProperty("soft.extracted", "2,3,4,5").split(",")).map(String::trim)
                .filter(x -> !x.isEmpty()).map(Integer::valueOf).toList();
        int ict = Integer.getInteger("soft.ict-steps", 150);
        try (Manyfold host = Claims.host()) {
            experiment(host, seeds, root, jsonl, parts, extracted, ict);
        }
    }

    private static void experiment(Manyfold host, long[] seeds, Path root, Path jsonl, List<String> parts, List<Integer> extracted,
            int ict) throws IOException {
        StringBuilder md = new StringBuilder();
        if (parts.contains("text")) {
            Path dir = Files.createDirectories(root.resolve("text"));
            SoftRuns runs = new SoftRuns(SoftRuns.Setting.text(dir, 500, 250, ict), host);
            SoftRuns.Results r = run(runs, seeds, extracted);
            List<String> arms = new ArrayList<>(List.of("SFT", "SoFT"));
            if (ict > 0) {
                arms.add("SFT+ICT");
            }
            extracted.forEach(n -> arms.add("extracted-" + n));
            md.append("### Held-out technical fortunes: SFT, SoFT, SFT+ICT and extracted fine-tuning\n\n")
                    .append(String.format("`SoftExperiment`, seeds %s (fine-tune seed = split seed; pretrain once, seed 1, 500 steps). "
                            + "Loss per exit on each seed's held-out documents (40 batches of 16 × 48 tokens), mean over seeds:%n%n",
                            r.seeds))
                    .append(SoftRuns.lossTable(r, arms))
                    .append("\nExit distance from the last layer (mean over seeds; paired differences, **bold** beyond noise):\n\n")
                    .append(SoftRuns.exitTable(r)).append("\nBy token position (mean over seeds; every position in the runs' "
                            + "`eval-exit-positions.csv` via `manyfold eval`):\n\n")
                    .append(SoftRuns.positionTable(r)).append('\n');
        }
        if (parts.contains("instructions")) {
            Path dir = Files.createDirectories(root.resolve("instructions"));
            SoftRuns runs = new SoftRuns(SoftRuns.Setting.instructions(dir, jsonl, 500, 300, 0), host);
            SoftRuns.Results r = run(runs, seeds, List.of());
            md.append("### Instruction data, loss on answers only (the paper's Alpaca setting in miniature)\n\n")
                    .append(String.format("`SoftExperiment`, seeds %s; %s; pretrain 500 steps on 96-token windows of the other "
                            + "fortunes, then SFT and SoFT 300 steps of 8 rows × 160 tokens. Loss per exit on each seed's held-out "
                            + "15%% of the examples (answer tokens only), mean over seeds:%n%n", r.seeds, jsonl.getFileName()))
                    .append(SoftRuns.lossTable(r, List.of("SFT", "SoFT")))
                    .append("\nExit distance from the last layer over answer tokens:\n\n").append(SoftRuns.exitTable(r))
                    .append("\nBy response position (0 = the position that predicts the answer's first token):\n\n")
                    .append(SoftRuns.positionTable(r)).append('\n');
        }
        Claims.report("soft-fidelity-log", md.toString());
        String name = parts.containsAll(List.of("text", "instructions")) ? "soft-fidelity.md"
                : "soft-fidelity-" + String.join("-", parts) + ".md";
        Path out = Files.createDirectories(Path.of("target", "claims")).resolve(name);
        Files.writeString(out, md.toString());
    }

    private static SoftRuns.Results run(SoftRuns runs, long[] seeds, List<Integer> extracted) {
        Path pre = runs.pretrain();
        SoftRuns.Results r = new SoftRuns.Results();
        List<Map<String, Path>> all = new ArrayList<>();
        for (long seed : seeds) {
            all.add(runs.train(pre, seed, extracted));
        }
        for (int i = 0; i < seeds.length; i++) {
            runs.score(all.get(i), seeds[i], r);
        }
        return r;
    }
}
