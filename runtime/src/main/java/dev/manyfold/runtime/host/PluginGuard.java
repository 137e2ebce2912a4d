package dev.manyfold.runtime.host;

import java.io.IOException;
import java.io.InputStream;
import java.security.Permission;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Bounds what a plugin can do to the host while it starts. Its constructor (and its
 * contribution lists) run on their own daemon thread with a time limit
 * ({@value #TIMEOUT_PROPERTY}, default {@value #DEFAULT_TIMEOUT_MS} ms); running out of memory,
 * overflowing the stack or calling {@code System.exit} refuses that plugin only. Exits are
 * stopped by a security manager installed only while plugins start, where the JVM allows one
 * (Java 17 does, printing its deprecation warning once; later JDKs refuse it and an exit there
 * still ends the process). The plugins shipped with this build are started without it. Descriptor
 * and service files are read with a size cap ({@link #readCapped}), so a decompression bomb
 * stops at the cap.
 *
 * <p>What cannot be guarded, because plugins run in the host's JVM: a thread that keeps
 * running after its time limit (it is abandoned, not stopped), memory a plugin keeps,
 * native code, {@code Runtime.halt}, and anything a plugin's factories do later while a
 * command runs.
 */
final class PluginGuard {
    static final String TIMEOUT_PROPERTY = "manyfold.plugin-start-timeout-ms";
    static final long DEFAULT_TIMEOUT_MS = 30_000;
    /** The largest descriptor or service file read. */
    static final int MAX_FILE_BYTES = 64 * 1024;

    private static final Object LOCK = new Object();
    private static int active;
    private static SecurityManager previous;
    private static boolean installed;
    private static boolean unavailable;

    private PluginGuard() {}

    /** A plugin did something while starting that the host refuses. */
    static final class Refused extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Refused(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Blocks {@code System.exit} while plugins start; everything else is allowed. */
    private static final class ExitGuard extends SecurityManager {
        @Override
        public void checkPermission(Permission perm) {
            if (perm instanceof RuntimePermission && perm.getName().startsWith("exitVM")) {
                synchronized (LOCK) {
                    if (active > 0) {
                        throw new SecurityException("System.exit is not allowed while a plugin starts");
                    }
                }
            }
            if (previous != null) {
                previous.checkPermission(perm);
            }
        }

        @Override
        public void checkPermission(Permission perm, Object context) {
            checkPermission(perm);
        }
    }

    /**
     * Runs {@code start} guarded and returns its result.
     *
     * @throws Refused when it exits, runs out of memory or stack, or does not finish in time
     * @throws RuntimeException what {@code start} threw, unchanged
     */
    static <T> T start(String plugin, Supplier<T> start) {
        return start(plugin, start, true);
    }

    /**
     * As {@link #start(String, Supplier)}; {@code guardExit} false leaves {@code System.exit}
     * unguarded (for the plugins shipped with this build: installing the guard makes Java 17
     * print a deprecation warning on every command).
     */
    static <T> T start(String plugin, Supplier<T> start, boolean guardExit) {
        long timeout = Long.getLong(TIMEOUT_PROPERTY, DEFAULT_TIMEOUT_MS);
        FutureTask<T> task = new FutureTask<>(start::get);
        Thread thread = new Thread(task, "plugin-start-" + plugin);
        thread.setDaemon(true);
        if (guardExit) {
            enter();
        }
        try {
            thread.start();
            return task.get(timeout, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            task.cancel(true);
            throw new Refused("did not start within " + timeout + " ms (its thread is abandoned, not stopped)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Refused("interrupted while starting", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            // ServiceLoader wraps what a constructor throws in a ServiceConfigurationError: look through the chain.
            for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
                if (t instanceof SecurityException && String.valueOf(t.getMessage()).startsWith("System.exit")) {
                    throw new Refused("called System.exit while starting", t);
                }
                if (t instanceof OutOfMemoryError || t instanceof StackOverflowError) {
                    throw new Refused("ran out of " + (t instanceof OutOfMemoryError ? "memory" : "stack") + " while starting: " + t, t);
                }
            }
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new Refused("failed to start: " + cause, cause);
        } finally {
            if (guardExit) {
                leave();
            }
        }
    }

    private static void enter() {
        synchronized (LOCK) {
            if (active++ == 0 && !unavailable) {
                install();
            }
        }
    }

    private static void leave() {
        synchronized (LOCK) {
            if (--active == 0 && installed) {
                System.setSecurityManager(previous);
                installed = false;
            }
        }
    }

    @SuppressWarnings("removal")
    private static void install() {
        previous = System.getSecurityManager();
        try {
            // Java 17 prints a deprecation warning (to the JVM's initial stderr) on the first call.
            System.setSecurityManager(new ExitGuard());
            installed = true;
        } catch (UnsupportedOperationException | SecurityException e) {
            unavailable = true; // -Djava.security.manager=disallow, or a JDK without it
        }
    }

    /** Whether exits are actually stopped in this JVM (false where no security manager can be installed). */
    static boolean exitsGuarded() {
        synchronized (LOCK) {
            return !unavailable;
        }
    }

    /**
     * Reads at most {@link #MAX_FILE_BYTES}; a larger stream (such as a decompression bomb)
     * is refused once the cap is passed, without reading the rest.
     *
     * @throws IOException when reading fails or the content is larger than the cap
     */
    static byte[] readCapped(InputStream in, String what) throws IOException {
        byte[] bytes = in.readNBytes(MAX_FILE_BYTES + 1);
        if (bytes.length > MAX_FILE_BYTES) {
            throw new IOException(what + " is larger than " + MAX_FILE_BYTES + " bytes");
        }
        return bytes;
    }
}
