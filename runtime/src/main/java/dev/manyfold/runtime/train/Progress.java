package dev.manyfold.runtime.train;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Reports training progress: a redrawn bar with loss, throughput and ETA on a terminal,
 * plain log lines every {@code logEvery} steps otherwise.
 */
public final class Progress {
    private final PrintWriter out;
    private final boolean terminal;
    private final long total;
    private final int logEvery;
    private final String unit;
    private long startNanos;
    private long startStep;
    private boolean barDrawn;

    public Progress(PrintWriter out, boolean terminal, long total, int logEvery, String unit) {
        this.out = out;
        this.terminal = terminal;
        this.total = total;
        this.logEvery = logEvery;
        this.unit = unit;
    }

    /** Whether the JVM writes to an interactive terminal. */
    public static boolean isTerminal() {
        return System.console() != null && System.getenv("TERM") != null && !"dumb".equals(System.getenv("TERM"));
    }

    public void start(long fromStep) {
        startNanos = System.nanoTime();
        startStep = fromStep;
    }

    /** After an optimiser step: {@code items} examples or tokens were processed in it. */
    public void step(long step, double loss, double lr, long itemsPerStep) {
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        long done = step - startStep;
        double perSecond = done == 0 ? 0 : done * itemsPerStep / elapsed;
        double eta = done == 0 ? 0 : elapsed / done * (total - step);
        if (terminal) {
            int width = 28;
            int filled = (int) (width * step / Math.max(1, total));
            out.printf(Locale.ROOT, "\r[%s%s] %d/%d loss %.4f  %.0f %s/s  ETA %s ", "#".repeat(filled), ".".repeat(width - filled),
                    step, total, loss, perSecond, unit, duration(eta));
            out.flush();
            barDrawn = true;
        } else if (step % logEvery == 0 || step == total) {
            out.printf(Locale.ROOT, "step %d/%d loss %.4f lr %.2e %.0f %s/s ETA %s%n", step, total, loss, lr, perSecond, unit,
                    duration(eta));
            out.flush();
        }
    }

    /** A line that must not be overwritten by the bar. */
    public void line(String text) {
        if (barDrawn) {
            out.println();
            barDrawn = false;
        }
        out.println(text);
        out.flush();
    }

    public double elapsedSeconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    /** {@code 1m05s}, or {@code 2h03m} from an hour on. */
    public static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60)
                : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
}
