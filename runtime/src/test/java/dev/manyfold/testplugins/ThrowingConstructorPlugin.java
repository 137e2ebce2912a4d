package dev.manyfold.testplugins;

import dev.manyfold.api.Plugin;

/**
 * A plugin whose constructor fails, as one does when a native library is missing. Its class
 * file is packed into a plugin jar at test time; it only references the JDK and the API.
 */
public final class ThrowingConstructorPlugin implements Plugin {
    public ThrowingConstructorPlugin() {
        throw new IllegalStateException("native library libfoo.so not found");
    }
}
