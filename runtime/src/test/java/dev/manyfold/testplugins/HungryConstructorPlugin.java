package dev.manyfold.testplugins;

import dev.manyfold.api.Plugin;

/** A plugin whose constructor asks for more memory than any heap has. Packed into a plugin jar at test time. */
public final class HungryConstructorPlugin implements Plugin {
    static long[][] kept;

    public HungryConstructorPlugin() {
        kept = new long[64][];
        for (int i = 0; i < kept.length; i++) {
            kept[i] = new long[Integer.MAX_VALUE / 2]; // 8 GB each
        }
    }
}
