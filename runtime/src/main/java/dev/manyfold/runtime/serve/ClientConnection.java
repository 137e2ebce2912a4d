package dev.manyfold.runtime.serve;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Whether the client of a request that is not streaming is still connected. Jetty notices a
 * closed connection only when it reads or writes it, and a non-streaming answer writes nothing
 * until its decode ends, so this asks the kernel instead: the server's end of a connection the
 * client closed is in state {@code CLOSE_WAIT} (the client's FIN arrived) or gone from the
 * table (its RST arrived). Reads Linux's {@code /proc/net/tcp} and {@code /proc/net/tcp6},
 * matching the connection by its two ports, at most once per {@code interval}; where those
 * files cannot be read (another OS), {@link #gone()} is always false and a disconnected
 * client's decode runs to its end as before.
 *
 * <p>A client that half-closes its sending side and still waits for the answer would look
 * gone; HTTP/1.1 clients (curl, the OpenAI SDKs, browsers) do not do that.
 */
final class ClientConnection {
    private static final List<Path> TABLES = List.of(Path.of("/proc/net/tcp"), Path.of("/proc/net/tcp6"));
    private static final String ESTABLISHED = "01";

    private final int localPort;
    private final int remotePort;
    private final long intervalNanos;
    private long checked;
    private boolean gone;

    /**
     * @param localPort the server's port of the connection
     * @param remotePort the client's port of the connection
     * @param intervalMillis the least time between two reads of the kernel's table
     */
    ClientConnection(int localPort, int remotePort, long intervalMillis) {
        this.localPort = localPort;
        this.remotePort = remotePort;
        this.intervalNanos = TimeUnit.MILLISECONDS.toNanos(intervalMillis);
        this.checked = System.nanoTime() - intervalNanos;
    }

    /** Whether the kernel's table can be read here, so that {@link #gone()} can ever be true. */
    static boolean supported() {
        return Files.isReadable(TABLES.get(0));
    }

    /** True once the client has closed the connection (checked at most once per interval; stays true). */
    boolean gone() {
        long now = System.nanoTime();
        if (gone || now - checked < intervalNanos || !supported()) {
            return gone;
        }
        checked = now;
        gone = !established();
        return gone;
    }

    /** Whether some connection between the two ports is established (an unreadable table counts as yes). */
    private boolean established() {
        String local = String.format(":%04X ", localPort);
        String remote = String.format(":%04X ", remotePort);
        for (Path table : TABLES) {
            List<String> lines;
            try {
                lines = Files.readAllLines(table);
            } catch (IOException e) {
                return true;
            }
            for (String line : lines) {
                // "  sl  local_address rem_address st ...": addresses are HEXIP:HEXPORT.
                String[] f = line.trim().split("\\s+");
                if (f.length > 3 && (f[1] + " ").endsWith(local) && (f[2] + " ").endsWith(remote) && f[3].equals(ESTABLISHED)) {
                    return true;
                }
            }
        }
        return false;
    }
}
