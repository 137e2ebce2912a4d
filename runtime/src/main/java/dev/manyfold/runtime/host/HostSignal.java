package dev.manyfold.runtime.host;

/**
 * An exception the host throws through plugin code on purpose — from a callback it handed to a
 * plugin (a decoder's token consumer, say) to stop the plugin's work. Plugin calls let it pass
 * unwrapped, so the host catches what it threw; every other exception from plugin code is
 * reported as a {@link PluginException} naming the plugin.
 */
public abstract class HostSignal extends RuntimeException {
    private static final long serialVersionUID = 1L;

    protected HostSignal(String message) {
        super(message, null, false, false);
    }
}
