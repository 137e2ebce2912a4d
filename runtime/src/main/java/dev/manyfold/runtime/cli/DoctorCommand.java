package dev.manyfold.runtime.cli;

import ai.djl.engine.Engine;
import ai.djl.util.Utils;
import dev.manyfold.runtime.data.FashionMnist;
import dev.manyfold.runtime.data.TextCorpus;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "doctor", description = "Check the environment: engine, offline mode, threads and data sets.")
final class DoctorCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        boolean offline = Boolean.parseBoolean(System.getProperty("ai.djl.offline", System.getenv().getOrDefault("DJL_OFFLINE", "false")));
        out.printf("java:          %s %s%n", System.getProperty("java.vm.name"), System.getProperty("java.version"));
        out.printf("offline:       %s%s%n", offline, offline ? "" : "  (set -Dai.djl.offline=true: the launcher does)");
        Engine engine = Engine.getInstance();
        out.printf("engine:        %s %s%n", engine.getEngineName(), engine.getVersion());
        out.printf("djl cache:     %s%n", Utils.getEngineCacheDir());
        out.printf("omp wait:      %s%n", System.getenv().getOrDefault("OMP_WAIT_POLICY", "(default: active spinning; slow on 2 cores)"));
        out.printf("processors:    %d%n", Runtime.getRuntime().availableProcessors());
        out.printf("fashion-mnist: %s%n", Files.isDirectory(FashionMnist.DEFAULT_DIRECTORY) ? FashionMnist.DEFAULT_DIRECTORY
                : "missing (" + FashionMnist.INSTALL_HINT + ")");
        out.printf("fortunes:      %s%n", Files.isDirectory(TextCorpus.DEFAULT_PATH) ? TextCorpus.DEFAULT_PATH
                : "missing (" + TextCorpus.INSTALL_HINT + ")");
        return offline ? 0 : 1;
    }
}
