package dev.manyfold.runtime.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Commands whose implementation has not landed yet. Each says honestly what is missing and
 * exits with {@link Main#NOT_AVAILABLE}; none pretends to produce a result.
 */
final class NotYetCommands {
    private NotYetCommands() {}

    abstract static class NotYet implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "ARGS", arity = "0..*", description = "Arguments (ignored until the command lands)")
        java.util.List<String> args;

        abstract String missing();

        @Override
        public Integer call() {
            spec.commandLine().getErr().println("manyfold " + spec.name() + " is not available in this build: " + missing());
            return Main.NOT_AVAILABLE;
        }
    }



    @Command(name = "generate", description = "Generate text from a checkpoint (not available yet).")
    static final class Generate extends NotYet {
        String missing() {
            return "decoding needs the decoders of the adaptive-decoding plugin (greedy, self-speculative, early-exit).";
        }
    }


}
