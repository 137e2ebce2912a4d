package dev.manyfold.testkit;

import dev.manyfold.api.Context;
import dev.manyfold.api.Factory;
import dev.manyfold.api.Settings;
import java.util.Map;

/** Creates instances the way the host does: from a recipe section, then refusing unread keys. */
public final class Factories {
    private Factories() {}

    /**
     * {@code factory.create} on a section at {@code path} with {@code values}, then
     * {@link Settings#rejectUnknown()} (the host's strict settings).
     */
    public static <T> T create(Factory<T> factory, String path, Map<String, ?> values, Context context) {
        Settings settings = Settings.of(path, values);
        T instance = factory.create(settings, context);
        if (instance == null) {
            throw new AssertionError(factory.name() + ".create returned null");
        }
        settings.rejectUnknown();
        return instance;
    }
}
