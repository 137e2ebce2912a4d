package dev.manyfold.runtime.cli;

import dev.manyfold.api.ConfigException;
import dev.manyfold.runtime.host.Manyfold;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code manyfold} command line. Exit codes: 0 success, 1 failure, 2 bad input, 3 not available. */
@Command(name = "manyfold", mixinStandardHelpOptions = true, version = "manyfold 0.1.0",
        description = "Many-in-one neural networks: train, evaluate, decode and export nested sub-models.",
        subcommands = {PluginsCommand.class, ValidateCommand.class, SitesCommand.class, DoctorCommand.class, TrainCommand.class, EvalCommand.class,
                GenerateCommand.class, BenchCommand.class, ExportCommand.class, ServeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** Input was refused (recipe, checkpoint, arguments). */
    public static final int BAD_INPUT = 2;
    /** The command exists but its implementation has not landed. */
    public static final int NOT_AVAILABLE = 3;

    @Option(names = "--plugins", paramLabel = "DIR",
            description = "Plugin root (repeatable): each sub-directory is one isolated plugin. Default: $MANYFOLD_HOME/plugins.")
    List<Path> pluginDirs = new ArrayList<>();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Builds the host from the options: class-path plugins plus the plugin roots. */
    Manyfold host() {
        Manyfold.Builder builder = Manyfold.builder();
        List<Path> dirs = new ArrayList<>(pluginDirs);
        if (dirs.isEmpty()) {
            String home = System.getProperty("manyfold.home");
            if (home != null && Files.isDirectory(Path.of(home, "plugins"))) {
                dirs.add(Path.of(home, "plugins"));
            }
        }
        dirs.forEach(builder::pluginDir);
        return builder.build();
    }

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** The exit code of a command that threw {@code e}: {@link #BAD_INPUT} for refused input, 1 otherwise. */
    public static int exitCode(Throwable e) {
        return e instanceof ConfigException || e instanceof IllegalArgumentException
                || e instanceof dev.manyfold.runtime.checkpoint.CheckpointException
                || e instanceof dev.manyfold.runtime.data.DataException
                || e instanceof java.io.UncheckedIOException ? BAD_INPUT : 1;
    }

    /** The error line's text: a file-system failure (unwritable, full disk) says what the system said. */
    public static String message(Throwable e) {
        if (e instanceof java.io.UncheckedIOException io) {
            java.io.IOException cause = io.getCause();
            String why = cause instanceof java.nio.file.FileSystemException fs && fs.getReason() != null ? fs.getReason()
                    : cause instanceof java.nio.file.AccessDeniedException ? "permission denied"
                    : cause instanceof java.nio.file.FileSystemException ? cause.getClass().getSimpleName() : String.valueOf(cause.getMessage());
            return io.getMessage() + ": " + why;
        }
        return e.getMessage();
    }

    /** Runs the CLI with the given streams; returns the exit code. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (exitCode(e) == BAD_INPUT) {
                commandLine.getErr().println("error: " + message(e));
                return BAD_INPUT;
            }
            if (e instanceof dev.manyfold.runtime.host.PluginException pe) {
                // The plugin is named; its own frames help its author, the host's would not.
                commandLine.getErr().println("error: " + pe.getMessage());
                if (pe.isBadInput()) {
                    return BAD_INPUT;
                }
                StackTraceElement[] frames = pe.getCause().getStackTrace();
                for (int i = 0; i < Math.min(8, frames.length); i++) {
                    commandLine.getErr().println("\tat " + frames[i]);
                }
                return 1;
            }
            commandLine.getErr().println("error: " + e);
            e.printStackTrace(commandLine.getErr());
            return 1;
        });
        return cli.execute(args);
    }
}
