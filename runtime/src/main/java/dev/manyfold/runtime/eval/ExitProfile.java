package dev.manyfold.runtime.eval;

import static java.util.Objects.requireNonNull;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The Sorted-LLaMA exit analysis as a function of token position (the paper's per-position
 * figure): for each depth exit n and position p, the mean of {@code KL(p_L ‖ p_n)} and of the
 * hidden-state cosine over the validation rows that have position p.
 *
 * <p>Position p counts from a row's first scored position (its first non-negative label):
 * for text windows that is the window's first token, for instruction data ({@code type:
 * instructions}, prompt labels -100) the position that predicts the first answer token, so
 * p is the paper's "response position". Positions whose label is negative (prompt, padding)
 * are not counted. {@link #means()} gives the per-exit averages over every counted position,
 * which is what {@link ExitAnalysis#compute} returns.
 *
 * <p>Immutable; the arrays are copied.
 */
public final class ExitProfile {
    /** File names written by {@link #write(Path)}. */
    public static final String CSV = "eval-exit-positions.csv";
    public static final String PNG = "eval-exit-positions.png";

    private static final Color[] COLOURS = {new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44),
            new Color(214, 39, 40), new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194),
            new Color(127, 127, 127), new Color(188, 189, 34), new Color(23, 190, 207)};

    private final List<Integer> exits;
    private final double[][] klSums;
    private final double[][] cosineSums;
    private final long[] counts;

    /**
     * @param exits the exit depths, increasing, the last one the full depth
     * @param klSums per exit, per position: the summed KL
     * @param cosineSums per exit, per position: the summed cosine
     * @param counts per position: how many rows contributed
     */
    public ExitProfile(List<Integer> exits, double[][] klSums, double[][] cosineSums, long[] counts) {
        this.exits = List.copyOf(requireNonNull(exits, "exits is null"));
        if (klSums.length != exits.size() || cosineSums.length != exits.size()) {
            throw new IllegalArgumentException("one row of sums per exit is needed: " + exits.size() + " exits, " + klSums.length
                    + " KL rows, " + cosineSums.length + " cosine rows");
        }
        this.counts = counts.clone();
        this.klSums = new double[klSums.length][];
        this.cosineSums = new double[cosineSums.length][];
        for (int k = 0; k < klSums.length; k++) {
            if (klSums[k].length != counts.length || cosineSums[k].length != counts.length) {
                throw new IllegalArgumentException("exit " + exits.get(k) + ": sums for " + klSums[k].length + " positions, counts for "
                        + counts.length);
            }
            this.klSums[k] = klSums[k].clone();
            this.cosineSums[k] = cosineSums[k].clone();
        }
    }

    /** The exit depths, increasing; the last is the full depth. */
    public List<Integer> exits() {
        return exits;
    }

    /** Number of positions with at least one counted row. */
    public int positions() {
        int n = counts.length;
        while (n > 0 && counts[n - 1] == 0) {
            n--;
        }
        return n;
    }

    /** Rows counted at position p. */
    public long count(int position) {
        return counts[position];
    }

    /** Mean KL(p_L ‖ p_n) at exit index k (into {@link #exits()}) and position p; NaN where nothing was counted. */
    public double kl(int k, int position) {
        return counts[position] == 0 ? Double.NaN : klSums[k][position] / counts[position];
    }

    /** Mean hidden-state cosine at exit index k and position p; NaN where nothing was counted. */
    public double cosine(int k, int position) {
        return counts[position] == 0 ? Double.NaN : cosineSums[k][position] / counts[position];
    }

    /** Per-exit averages over every counted position. */
    public List<ExitStat> means() {
        long total = 0;
        for (long c : counts) {
            total += c;
        }
        if (total == 0) {
            throw new IllegalArgumentException("no scored validation positions for the exit analysis");
        }
        List<ExitStat> out = new ArrayList<>(exits.size());
        for (int k = 0; k < exits.size(); k++) {
            double kl = 0;
            double cos = 0;
            for (int p = 0; p < counts.length; p++) {
                kl += klSums[k][p];
                cos += cosineSums[k][p];
            }
            out.add(new ExitStat(exits.get(k), kl / total, cos / total, total));
        }
        return List.copyOf(out);
    }

    /** Positions 0, 1, 2, 4, 8, ... below {@link #positions()}, and the last one: the columns of {@link #print}. */
    public List<Integer> samplePositions() {
        List<Integer> out = new ArrayList<>();
        int n = positions();
        for (int p = 0; p < n; p = p == 0 ? 1 : p * 2) {
            out.add(p);
        }
        if (n > 0 && out.get(out.size() - 1) != n - 1) {
            out.add(n - 1);
        }
        return out;
    }

    /** Prints KL and cosine of each intermediate exit at {@link #samplePositions()}. */
    public void print(java.io.PrintWriter out) {
        List<Integer> ps = samplePositions();
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-14s", "position"));
        for (int p : ps) {
            head.append(String.format(Locale.ROOT, "%8d", p));
        }
        out.println(head);
        for (int k = 0; k < exits.size() - 1; k++) {
            StringBuilder kl = new StringBuilder(String.format(Locale.ROOT, "%-14s", "KL exit " + exits.get(k)));
            StringBuilder cos = new StringBuilder(String.format(Locale.ROOT, "%-14s", "cos exit " + exits.get(k)));
            for (int p : ps) {
                kl.append(String.format(Locale.ROOT, "%8.3f", kl(k, p)));
                cos.append(String.format(Locale.ROOT, "%8.3f", cosine(k, p)));
            }
            out.println(kl);
            out.println(cos);
        }
        out.printf(Locale.ROOT, "per token position, counted from each row's first scored position (%d rows at position 0); all "
                + "positions in %s%n", counts.length == 0 ? 0 : counts[0], CSV);
    }

    /** CSV lines: {@code exit,position,kl_full_to_exit_nats,cosine_hidden,rows}, one per exit and counted position. */
    public List<String> csvLines() {
        List<String> lines = new ArrayList<>();
        lines.add("exit,position,kl_full_to_exit_nats,cosine_hidden,rows");
        for (int k = 0; k < exits.size(); k++) {
            for (int p = 0; p < positions(); p++) {
                if (counts[p] > 0) {
                    lines.add(String.format(Locale.ROOT, "%d,%d,%.8f,%.8f,%d", exits.get(k), p, kl(k, p), cosine(k, p), counts[p]));
                }
            }
        }
        return lines;
    }

    /** Writes {@value #CSV} and {@value #PNG} into {@code dir}; returns the files written. */
    public List<Path> write(Path dir) {
        Path csv = dir.resolve(CSV);
        Path png = dir.resolve(PNG);
        EvalReport.Csv.write(csv, csvLines());
        EvalPlot.writeImage(render(1200, 520), png);
        return List.of(csv, png);
    }

    /** Removes the files {@link #write} leaves in {@code dir}: an older profile would no longer match the table written there. */
    public static void removeStale(Path dir) {
        for (String name : List.of(CSV, PNG)) {
            try {
                java.nio.file.Files.deleteIfExists(dir.resolve(name));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot remove the stale " + dir.resolve(name), e);
            }
        }
    }

    /** Two panels against position (KL left, cosine right), one line per intermediate exit. */
    public BufferedImage render(int width, int height) {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            int half = width / 2;
            panel(g, 0, half, height, true);
            panel(g, half, width - half, height, false);
        } finally {
            g.dispose();
        }
        return image;
    }

    private void panel(Graphics2D g, int x0, int w, int h, boolean kl) {
        int left = x0 + 70;
        int right = x0 + w - 20;
        int top = 64;
        int bottom = h - 60;
        int n = positions();
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < exits.size() - 1; k++) {
            for (int p = 0; p < n; p++) {
                double v = kl ? kl(k, p) : cosine(k, p);
                if (!Double.isNaN(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        if (!(lo <= hi)) {
            lo = 0;
            hi = 1;
        }
        if (kl) {
            lo = 0;
        }
        if (hi - lo < 1e-9) {
            hi = lo + 1;
        }
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(kl ? "KL(p_L || p_n) by position" : "cosine(h_n, h_L) by position", left, 26);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawRect(left, top, right - left, bottom - top);
        for (int t = 0; t <= 4; t++) {
            double v = lo + (hi - lo) * t / 4;
            int y = (int) Math.round(bottom - (bottom - top) * (v - lo) / (hi - lo));
            g.drawLine(left - 4, y, left, y);
            g.drawString(String.format(Locale.ROOT, kl ? "%.2f" : "%.3f", v), x0 + 8, y + 4);
        }
        int maxX = Math.max(1, n - 1);
        for (int t = 0; t <= 4; t++) {
            int p = maxX * t / 4;
            int x = left + (right - left) * p / maxX;
            g.drawLine(x, bottom, x, bottom + 4);
            g.drawString(Integer.toString(p), x - 6, bottom + 18);
        }
        g.drawString("position (from the first scored token)", left + (right - left) / 2 - 100, bottom + 40);
        g.setStroke(new BasicStroke(1.8f));
        for (int k = 0; k < exits.size() - 1; k++) {
            Path2D.Double line = new Path2D.Double();
            boolean started = false;
            for (int p = 0; p < n; p++) {
                double v = kl ? kl(k, p) : cosine(k, p);
                if (Double.isNaN(v)) {
                    continue;
                }
                double x = left + (double) (right - left) * p / maxX;
                double y = bottom - (bottom - top) * (v - lo) / (hi - lo);
                if (started) {
                    line.lineTo(x, y);
                } else {
                    line.moveTo(x, y);
                    started = true;
                }
            }
            Color c = COLOURS[k % COLOURS.length];
            g.setColor(c);
            g.draw(line);
            int x = left + 64 * k;
            g.fillRect(x, top - 16, 14, 4);
            g.setColor(Color.BLACK);
            g.drawString("exit " + exits.get(k), x + 18, top - 10);
        }
    }
}
