package dev.manyfold.testplugins;

import dev.manyfold.api.Plugin;

/** A plugin whose constructor never returns. Packed into a plugin jar at test time. */
public final class SlowConstructorPlugin implements Plugin {
    public SlowConstructorPlugin() {
        while (true) {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                // keeps going: a hostile plugin ignores interrupts
            }
        }
    }
}
