package dev.manyfold.runtime.cli;

import dev.manyfold.runtime.host.ExtensionKind;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.host.PluginRecord;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "plugins", mixinStandardHelpOptions = true,
        description = "List plugins: description, version, API range, origin, status and each contributed factory with its description.")
final class PluginsCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (Manyfold host = main.host()) {
            List<PluginRecord> records = host.plugins();
            if (records.isEmpty()) {
                out.println("no plugins found (give a plugin root with --plugins DIR)");
            }
            for (PluginRecord r : records) {
                out.printf("%s %s%n", r.name(), r.version());
                if (!r.description().isEmpty()) {
                    out.printf("  about:  %s%n", r.description());
                }
                out.printf("  api:    %s%n", r.apiRange());
                out.printf("  from:   %s%n", r.source());
                out.printf("  status: %s%n", r.status());
                for (ExtensionKind kind : ExtensionKind.values()) {
                    List<String> names = r.contributions().getOrDefault(kind, List.of());
                    if (!names.isEmpty()) {
                        out.printf("  %-13s %s%n", kind.plural() + ":", String.join(", ", names));
                        for (String n : names) {
                            var factory = host.extensions().of(kind).get(n);
                            String about = factory == null ? "" : factory.description();
                            if (about != null && !about.isBlank()) {
                                out.printf("    %-18s %s%n", n, about);
                            }
                        }
                    }
                }
            }
            long refused = records.stream().filter(r -> !r.loaded()).count();
            out.printf("%d plugin(s) loaded, %d refused%n", records.size() - refused, refused);
            return 0;
        }
    }
}
