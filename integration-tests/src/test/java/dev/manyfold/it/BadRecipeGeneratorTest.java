package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.cli.Main;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.RunDirectory;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.recipe.Recipe;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs every generated bad recipe ({@link BadRecipes}) through what {@code validate} runs and
 * what {@code train} runs before its first step, in this JVM with one host holding the
 * bundle's plugins, and checks both refuse it alike: bad-input exit code, the key path named,
 * the same message, no stack trace, nothing trained, no run directory left. Every
 * {@value #CLI_EVERY}th case also goes through the CLI entry point ({@link Main#execute}) for
 * both commands, which must print the same error line. The tally goes to
 * {@code target/reliability-recipes.txt}.
 */
class BadRecipeGeneratorTest {
    private static final long TIMEOUT_SECONDS = 60;
    private static final int CLI_EVERY = 10;

    @TempDir
    static Path tmp;

    private static Manyfold host;
    private static ExecutorService executor;

    @BeforeAll
    static void setUp() throws Exception {
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("manyfold.home", Bundle.home().toString()); // the bundle's own plugins start as shipped ones
        Files.writeString(tmp.resolve("not-a-checkpoint.txt"), "hello");
        assertThat(new ProcessBuilder("mkfifo", tmp.resolve("fifo").toString()).start().waitFor()).isZero();
        host = Manyfold.builder().pluginDir(Bundle.plugins()).build();
        executor = newExecutor();
    }

    @AfterAll
    static void tearDown() {
        executor.shutdownNow();
        host.close();
    }

    private static ExecutorService newExecutor() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "bad-recipe");
            t.setDaemon(true);
            return t;
        });
    }

    /** One command's outcome: exit code, the error line, whether a stack trace was printed, whether it hung. */
    record Run(int exit, String error, String detail, boolean hung) {
        boolean stackTrace() {
            return exit == 1 || detail.contains("\tat ") || detail.contains("Exception in thread");
        }
    }

    private static Run bounded(Callable<Run> call) {
        Future<Run> f = executor.submit(call);
        try {
            return f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            executor = newExecutor(); // the stuck thread is abandoned (daemon)
            return new Run(-1, "<hung>", "", true);
        } catch (Exception e) {
            return new Run(1, "<" + e + ">", e.toString(), false);
        }
    }

    /** In-process, as the command does it; an exception maps to the CLI's exit code and error line. */
    private static Run direct(Callable<Object> command) {
        return bounded(() -> {
            try {
                command.call();
                return new Run(0, "<accepted>", "", false);
            } catch (Exception | Error e) {
                int code = Main.exitCode(e);
                StringWriter trace = new StringWriter();
                if (code != Main.BAD_INPUT) {
                    e.printStackTrace(new PrintWriter(trace));
                }
                return new Run(code, "error: " + e.getMessage(), trace.toString(), false);
            }
        });
    }

    private static Run validate(Path file) {
        return direct(() -> TrainJob.validate(host, Recipe.load(file), tmp.resolve("work")));
    }

    /** What train runs up to its first step: the run directory, then everything prepare checks and builds. */
    private static Run train(Path file, Path runDir) {
        return direct(() -> {
            Recipe recipe = Recipe.load(file);
            try (RunDirectory run = RunDirectory.open(runDir, RunDirectory.Mode.NEW, recipe);
                    dev.manyfold.runtime.job.Run p = TrainJob.prepare(host, recipe, new PrintWriter(new StringWriter()), runDir)) {
                return p;
            }
        });
    }

    private static Run cli(String... args) {
        List<String> all = new ArrayList<>(List.of("--plugins", Bundle.plugins().toString()));
        all.addAll(List.of(args));
        return bounded(() -> {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int code = Main.execute(all.toArray(String[]::new), new PrintWriter(out, true), new PrintWriter(err, true));
            String error = err.toString().lines().filter(l -> l.startsWith("error: ")).findFirst().orElse("<no error line>");
            return new Run(code, error, err + out.toString(), false);
        });
    }

    @Test
    void theBaseRecipesAreValid() throws IOException {
        for (Map<String, Object> base : BadRecipes.bases()) {
            Path file = Files.writeString(tmp.resolve("base.yaml"), new com.fasterxml.jackson.databind.ObjectMapper(
                    new com.fasterxml.jackson.dataformat.yaml.YAMLFactory()).writeValueAsString(base));
            Run r = validate(file);
            assertThat(r.exit()).as(base + "\n" + r.error()).isZero();
        }
    }

    @Test
    void everyGeneratedBadRecipeIsRefusedByValidateAndTrainAlikeNamingItsKey() throws IOException {
        List<BadRecipes.Case> cases = BadRecipes.all(tmp);
        assertThat(cases).hasSizeGreaterThanOrEqualTo(300);
        Map<String, Integer> tally = new LinkedHashMap<>();
        for (String k : List.of("tried", "clear error", "stack trace", "hang", "wrong", "lost")) {
            tally.put(k, 0);
        }
        List<String> failures = new ArrayList<>();
        List<String> seen = new ArrayList<>();
        int viaCli = 0;
        for (int i = 0; i < cases.size(); i++) {
            BadRecipes.Case c = cases.get(i);
            Path file = Files.writeString(tmp.resolve("bad-" + i + ".yaml"), c.yaml());
            Path runDir = tmp.resolve("run-" + i);
            Run validate = validate(file);
            Run train = train(file, runDir);
            List<Run> runs = new ArrayList<>(List.of(validate, train));
            boolean cliAgrees = true;
            if (i % CLI_EVERY == 0) {
                Run cliValidate = cli("validate", file.toString());
                Run cliTrain = cli("train", file.toString(), "--run-dir", tmp.resolve("cli-run-" + i).toString());
                runs.addAll(List.of(cliValidate, cliTrain));
                cliAgrees = cliValidate.exit() == validate.exit() && cliValidate.error().equals(validate.error())
                        && cliTrain.exit() == train.exit() && cliTrain.error().equals(train.error());
                viaCli++;
            }
            tally.merge("tried", 1, Integer::sum);
            String category;
            if (runs.stream().anyMatch(Run::hung)) {
                category = "hang";
            } else if (runs.stream().anyMatch(Run::stackTrace)) {
                category = "stack trace";
            } else if (validate.exit() != Main.BAD_INPUT || train.exit() != Main.BAD_INPUT || !validate.error().contains(c.path())
                    || !validate.error().equals(train.error()) || !cliAgrees) {
                category = "wrong";
            } else if (Files.exists(runDir)) {
                category = "lost"; // a refused recipe leaves no run directory behind
            } else {
                category = "clear error";
            }
            tally.merge(category, 1, Integer::sum);
            seen.add(category + ": " + c.what() + " -> " + validate.error());
            if (!category.equals("clear error")) {
                failures.add(category + ": " + c.what() + " (expected " + c.path() + ")\n  validate " + validate.exit() + ": "
                        + validate.error() + "\n  train    " + train.exit() + ": " + train.error()
                        + (category.equals("stack trace") ? "\n" + validate.detail() + train.detail() : ""));
            }
        }
        String report = "bad recipes (BadRecipeGeneratorTest): " + tally + ", " + viaCli + " also through the CLI";
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target", "reliability-recipes.txt"), report + "\n" + String.join("\n", failures)
                + "\n\nevery case:\n" + String.join("\n", seen) + "\n");
        System.out.println(report);
        assertThat(failures).as(report).isEmpty();
    }
}
