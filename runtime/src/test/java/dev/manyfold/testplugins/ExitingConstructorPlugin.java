package dev.manyfold.testplugins;

import dev.manyfold.api.Plugin;

/** A plugin whose constructor calls {@code System.exit(0)}. Packed into a plugin jar at test time. */
public final class ExitingConstructorPlugin implements Plugin {
    public ExitingConstructorPlugin() {
        System.exit(0);
    }
}
