package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Shared plumbing of the paper-claim tests: train through the launcher, load in-process, report. */
final class Claims {
    private Claims() {}

    /** Trains a recipe through {@code bin/manyfold train} into {@code runDir}; fails with the output otherwise. */
    static void train(Path recipe, Path runDir) {
        Cli.Result r = Cli.run("train", recipe.toString(), "--run-dir", runDir.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
    }

    /** A host with the bundle's plugins, as the launcher builds it. */
    static Manyfold host() {
        return Manyfold.builder().pluginDir(Bundle.plugins()).build();
    }

    /** Loads a trained run (latest checkpoint) in-process. */
    static Run load(Manyfold host, Path run) {
        return TrainJob.load(host, run, new PrintWriter(PrintWriter.nullWriter()));
    }

    /** Appends measured figures to {@code target/claims/<name>.txt} and prints them. */
    static void report(String name, String text) {
        try {
            Path dir = Files.createDirectories(Path.of("target", "claims"));
            Files.writeString(dir.resolve(name + ".txt"), text + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.println(text);
    }
}
