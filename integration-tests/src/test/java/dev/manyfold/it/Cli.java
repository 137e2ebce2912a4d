package dev.manyfold.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the bundle's {@code bin/manyfold} as a user would, capturing exit code and output. */
final class Cli {
    private Cli() {}

    record Result(List<String> command, int exit, String out, String err) {
        /** For assertion descriptions. */
        String describe() {
            return String.join(" ", command) + "\n--- exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    static Result run(String... args) {
        return run(java.util.Map.of(), args);
    }

    /** Runs with extra environment variables. */
    static Result run(java.util.Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Bundle.launcher().toString());
        command.addAll(List.of(args));
        try {
            Path out = Files.createTempFile("manyfold-out", ".txt");
            Path err = Files.createTempFile("manyfold-err", ".txt");
            try {
                ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
                // the JDK running the tests, not whatever java is first on PATH
                pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
                pb.environment().putAll(env);
                Process p = pb.start();
                if (!p.waitFor(180, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new AssertionError("timed out after 180 s: " + command);
                }
                return new Result(command, p.exitValue(), Files.readString(out), Files.readString(err));
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running " + command, e);
        }
    }
}
