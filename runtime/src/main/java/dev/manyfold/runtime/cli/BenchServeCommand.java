package dev.manyfold.runtime.cli;

import dev.manyfold.runtime.serve.LoadTest;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "serve", description = "Load-test a running `manyfold serve`: concurrent streaming clients per budget for a fixed time;"
        + " aggregate tokens/s, time to first token and per-token latency percentiles, as a Markdown table.")
final class BenchServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "[LABEL=]URL", arity = "1..*", description = "The servers, such as http://127.0.0.1:8080 or"
            + " batched=http://127.0.0.1:8081; several are load-tested in turn within each level")
    List<String> urls = new ArrayList<>();

    @Option(names = "--budget", required = true, paramLabel = "SPEC",
            description = "A budget (repeatable): a model id (run, run:exit-2), optionally followed by the manyfold field as JSON: "
                    + "'run {\"decoder\": \"self-speculative\", \"draft\": 2}'")
    List<String> budgets = new ArrayList<>();

    @Option(names = "--clients", defaultValue = "1,4,16", split = ",", paramLabel = "N,N", description = "Concurrency levels (default ${DEFAULT-VALUE})")
    List<Integer> clients;

    @Option(names = "--seconds", defaultValue = "20", description = "Duration of each level × budget cell (default ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--max-tokens", defaultValue = "64", description = "max_tokens of each request (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--warmup", defaultValue = "3", description = "Unmeasured requests per budget first (default ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--rounds", defaultValue = "1", description = "Passes over every level, server and budget; each cell pools its"
            + " rounds (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "Prompts, used in turn (repeatable; default: six short ones)")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--api-key-file", paramLabel = "FILE", description = "Send the key in this file as Authorization: Bearer")
    Path apiKeyFile;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (clients.stream().anyMatch(c -> c < 1) || seconds <= 0 || maxTokens < 1 || warmup < 0 || rounds < 1) {
            throw new IllegalArgumentException("--clients must be >= 1, --seconds > 0, --max-tokens >= 1, --warmup >= 0 and --rounds >= 1");
        }
        List<LoadTest.Budget> parsed = budgets.stream().map(LoadTest.Budget::parse).toList();
        List<String> texts = prompts.isEmpty() ? List.of("The computer", "Unix is", "A program that", "Linux", "The system call",
                "Memory is") : prompts;
        Optional<String> key = apiKeyFile == null ? Optional.empty() : Optional.of(Files.readString(apiKeyFile).strip());
        List<LoadTest.Server> servers = urls.stream().map(LoadTest.Server::parse).toList();
        out.printf("load test of %s: %s clients, %.0f s per cell, %d tokens per request, %d round(s)%n", servers, clients, seconds, maxTokens,
                rounds);
        List<LoadTest.Row> rows = new LoadTest(servers, key, texts, maxTokens).run(parsed, clients, seconds, warmup, rounds, out);
        out.println();
        out.print(LoadTest.table(rows));
        out.flush();
        return rows.stream().anyMatch(r -> r.errors() > 0) ? 1 : 0;
    }
}
