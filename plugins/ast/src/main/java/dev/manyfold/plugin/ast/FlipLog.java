package dev.manyfold.plugin.ast;

import static java.util.Objects.requireNonNull;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Aggregates one strategy's per-site flip counts into one row per mask update and appends it
 * to {@code NAME.tsv} ({@code step, r_t, i_t, revived}); redraws {@code NAME.png} (r_t and i_t
 * over steps) every {@code plotEvery} rows.
 *
 * <p>A round (all sites of one step) is complete when {@code expectedSites} sites have
 * reported, or, when that number is unknown, when a later step begins. A round where every
 * site reported its first mask (step 0, or the first update after a resume) writes no row;
 * step 0 starts a new file. Thread-safe.
 */
final class FlipLog {
    static final String HEADER = "step\tr_t\ti_t\trevived";

    /** One written row. */
    record Row(long step, double flipRate, double initialFlipRate, double revived) {}

    private final Path tsv;
    private final Path png;
    private final int expectedSites;
    private final int plotEvery;
    private final List<Row> rows = new ArrayList<>();
    private boolean loaded;
    private long pendingStep = -1;
    private int pendingSites;
    private boolean pendingInitial = true;
    private FlipRates pending = FlipRates.zero();

    FlipLog(Path directory, String name, int expectedSites, int plotEvery) {
        requireNonNull(directory, "directory is null");
        this.tsv = directory.resolve(name + ".tsv");
        this.png = directory.resolve(name + ".png");
        this.expectedSites = expectedSites;
        this.plotEvery = plotEvery;
    }

    /** Records one site's counts at {@code step}; {@code initial} when this is the site's first mask. */
    synchronized void record(long step, FlipRates counts, boolean initial) {
        if (pendingSites > 0 && step != pendingStep) {
            flush();
        }
        if (pendingSites == 0 && step == 0) {
            restart();
        }
        pendingStep = step;
        pendingSites++;
        pendingInitial &= initial;
        pending = pending.plus(counts);
        if (expectedSites > 0 && pendingSites >= expectedSites) {
            flush();
        }
    }

    /** Writes the pending round, if any. */
    synchronized void flush() {
        if (pendingSites == 0) {
            return;
        }
        if (!pendingInitial) {
            Row row = new Row(pendingStep, pending.flipRate(), pending.initialFlipRate(), pending.revivedRate());
            append(row);
        }
        pendingSites = 0;
        pendingInitial = true;
        pending = FlipRates.zero();
    }

    /** The rows written by this process (and, after a resume, those already in the file). */
    synchronized List<Row> rows() {
        return List.copyOf(rows);
    }

    Path tsv() {
        return tsv;
    }

    Path png() {
        return png;
    }

    private void restart() {
        rows.clear();
        loaded = true;
        try {
            Files.createDirectories(tsv.toAbsolutePath().getParent());
            Files.writeString(tsv, HEADER + "\n", StandardCharsets.UTF_8);
            Files.deleteIfExists(png);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + tsv, e);
        }
    }

    private void append(Row row) {
        try {
            Files.createDirectories(tsv.toAbsolutePath().getParent());
            if (!loaded) {
                load();
            }
            if (!Files.exists(tsv)) {
                Files.writeString(tsv, HEADER + "\n", StandardCharsets.UTF_8);
            }
            rows.add(row);
            Files.writeString(tsv, String.format(Locale.ROOT, "%d\t%.8f\t%.8f\t%.8f%n", row.step(), row.flipRate(),
                    row.initialFlipRate(), row.revived()), StandardCharsets.UTF_8, StandardOpenOption.APPEND);
            if (rows.size() % plotEvery == 0) {
                plot();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + tsv, e);
        }
    }

    /** After a resume: keeps the rows already in the file, up to the steps this run repeats. */
    private void load() throws IOException {
        loaded = true;
        if (!Files.exists(tsv)) {
            return;
        }
        for (String line : Files.readAllLines(tsv, StandardCharsets.UTF_8)) {
            String[] f = line.split("\t");
            if (f.length < 4 || f[0].equals("step")) {
                continue;
            }
            try {
                rows.add(new Row(Long.parseLong(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3])));
            } catch (NumberFormatException e) {
                // a line cut by a crash: skip it
            }
        }
    }

    /** Draws r_t (blue) and i_t (red) against the step into {@code NAME.png}, atomically. */
    void plot() throws IOException {
        List<Row> data = List.copyOf(rows);
        int width = 800;
        int height = 450;
        int left = 70;
        int right = 20;
        int top = 30;
        int bottom = 50;
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            long maxStep = 1;
            double maxY = 1e-9;
            for (Row r : data) {
                maxStep = Math.max(maxStep, r.step());
                maxY = Math.max(maxY, Math.max(r.flipRate(), r.initialFlipRate()));
            }
            maxY *= 1.05;
            int plotW = width - left - right;
            int plotH = height - top - bottom;
            g.setColor(Color.LIGHT_GRAY);
            for (int i = 0; i <= 4; i++) {
                int y = top + plotH - i * plotH / 4;
                g.drawLine(left, y, left + plotW, y);
            }
            g.setColor(Color.BLACK);
            g.drawRect(left, top, plotW, plotH);
            drawLabels(g, maxStep, maxY, left, top, plotW, plotH);
            g.setStroke(new BasicStroke(1.6f));
            for (int series = 0; series < 2; series++) {
                g.setColor(series == 0 ? new Color(31, 119, 180) : new Color(214, 39, 40));
                int px = -1;
                int py = -1;
                for (Row r : data) {
                    double v = series == 0 ? r.flipRate() : r.initialFlipRate();
                    int x = left + (int) Math.round((double) r.step() / maxStep * plotW);
                    int y = top + plotH - (int) Math.round(v / maxY * plotH);
                    if (px >= 0) {
                        g.drawLine(px, py, x, y);
                    } else {
                        g.fillOval(x - 2, y - 2, 4, 4);
                    }
                    px = x;
                    py = y;
                }
            }
        } finally {
            g.dispose();
        }
        Path tmp = png.resolveSibling(png.getFileName() + ".tmp");
        ImageIO.write(image, "png", tmp.toFile());
        Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void drawLabels(Graphics2D g, long maxStep, double maxY, int left, int top, int plotW, int plotH) {
        try {
            for (int i = 0; i <= 4; i++) {
                int y = top + plotH - i * plotH / 4;
                g.drawString(String.format(Locale.ROOT, "%.3g", maxY * i / 4), 5, y + 4);
                int x = left + i * plotW / 4;
                g.drawString(Long.toString(maxStep * i / 4), x - 10, top + plotH + 18);
            }
            g.drawString("step", left + plotW / 2 - 12, top + plotH + 40);
            g.setColor(new Color(31, 119, 180));
            g.drawString("r_t (flip rate since previous mask)", left + 10, top - 10);
            g.setColor(new Color(214, 39, 40));
            g.drawString("i_t (flip rate since initial mask)", left + 300, top - 10);
            g.setColor(Color.BLACK);
        } catch (RuntimeException | LinkageError | InternalError e) {
            // no usable font in this headless JVM: the curves are still drawn
        }
    }
}
