package dev.manyfold.runtime.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Draws an {@link EvalReport} as a scatter plot with Java2D (headless): one point per
 * sub-model, quality (accuracy in % for classification, validation loss for language
 * models) against FLOPs on a log axis. The full model is a larger red point labelled
 * "full model"; a dashed line joins the Pareto front (the best sub-model at each FLOPs
 * budget, i.e. what {@link EvalReport#bestWithin} picks).
 */
public final class EvalPlot {
    public static final int DEFAULT_WIDTH = 960;
    public static final int DEFAULT_HEIGHT = 640;
    /** Colour of the sub-model points. */
    public static final Color POINT = new Color(31, 119, 180);
    /** Colour of the full model's point. */
    public static final Color FULL = new Color(214, 39, 40);
    /** Colour of the Pareto-front line. */
    public static final Color FRONT = new Color(110, 110, 110);

    private static final int LEFT = 90;
    private static final int RIGHT = 30;
    private static final int TOP = 56;
    private static final int BOTTOM = 70;

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private EvalPlot() {}

    /** Renders and writes a PNG. */
    public static void write(EvalReport report, Path file, int width, int height) {
        writeImage(render(report, width, height), file);
    }

    /** Writes an image as a PNG, creating the parent directory. */
    static void writeImage(BufferedImage image, Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            try (var out = Files.newOutputStream(file)) {
                if (!ImageIO.write(image, "png", out)) {
                    throw new IOException("no PNG writer available");
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write plot " + file, e);
        }
    }

    /** Colours of the curves of {@link #renderCurves}, in order. */
    private static final Color[] CURVES = {new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44),
        new Color(255, 127, 14), new Color(148, 103, 189), new Color(140, 86, 75)};

    /**
     * Renders several methods' lattices on one plot and writes a PNG: each report is one curve
     * (its rows joined in FLOPs order, a point per sub-model), labelled by its key in a legend.
     * The reports must share a task.
     */
    public static void writeCurves(java.util.Map<String, EvalReport> curves, Path file, int width, int height) {
        writeImage(renderCurves(curves, width, height), file);
    }

    /** Renders the curves of {@link #writeCurves} into an RGB image. */
    public static BufferedImage renderCurves(java.util.Map<String, EvalReport> curves, int width, int height) {
        if (curves.isEmpty() || curves.size() > CURVES.length) {
            throw new IllegalArgumentException("a curve plot takes 1 to " + CURVES.length + " reports, got " + curves.size());
        }
        EvalReport first = curves.values().iterator().next();
        List<EvalRow> all = new ArrayList<>();
        for (EvalReport r : curves.values()) {
            if (r.task() != first.task()) {
                throw new IllegalArgumentException("curves of different tasks: " + first.task() + " and " + r.task());
            }
            all.addAll(r.rows());
        }
        checkSize(width, height);
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            new Painter(first, all, new java.util.LinkedHashMap<>(curves), g, width, height).paint();
        } finally {
            g.dispose();
        }
        return image;
    }

    private static void checkSize(int width, int height) {
        if (width < LEFT + RIGHT + 100 || height < TOP + BOTTOM + 100) {
            throw new IllegalArgumentException("plot size " + width + "x" + height + " is too small (at least "
                    + (LEFT + RIGHT + 100) + "x" + (TOP + BOTTOM + 100) + ")");
        }
    }

    /** Renders the plot into an RGB image of the given size. */
    public static BufferedImage render(EvalReport report, int width, int height) {
        checkSize(width, height);
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            new Painter(report, g, width, height).paint();
        } finally {
            g.dispose();
        }
        return image;
    }

    /** Where a row's point is drawn in a plot of the given size: {@code {x, y}} in pixels. */
    static double[] position(EvalReport report, EvalRow row, int width, int height) {
        Painter p = new Painter(report, null, width, height);
        p.ranges();
        return new double[] {p.px(row.flops()), p.py(y(report, row))};
    }

    /** The plotted y value of a row: accuracy in % or loss. */
    static double y(EvalReport report, EvalRow r) {
        return report.task() == EvalReport.Task.CLASSIFICATION ? 100 * r.accuracy() : r.loss();
    }

    /** The Pareto front: rows that beat every cheaper row, by increasing FLOPs. */
    static List<EvalRow> front(EvalReport report) {
        List<EvalRow> sorted = new ArrayList<>(report.rows());
        sorted.sort(Comparator.comparingLong(EvalRow::flops).thenComparing(report.bestFirst()));
        List<EvalRow> front = new ArrayList<>();
        for (EvalRow r : sorted) {
            if (front.isEmpty()) {
                front.add(r);
                continue;
            }
            double q = report.quality(r);
            double last = report.quality(front.get(front.size() - 1));
            if (report.task() == EvalReport.Task.CLASSIFICATION ? q > last : q < last) {
                front.add(r);
            }
        }
        return front;
    }

    private static final class Painter {
        private final EvalReport report;
        /** Every plotted row (of all curves). */
        private final List<EvalRow> rows;
        /** Labelled curves, or null for one report's scatter plot. */
        private final java.util.Map<String, EvalReport> curves;
        private final Graphics2D g;
        private final int width;
        private final int height;
        private final int x0;
        private final int x1;
        private final int y0;
        private final int y1;
        private double xlo;
        private double xhi;
        private double ylo;
        private double yhi;
        private boolean textWorks = true;

        Painter(EvalReport report, Graphics2D g, int width, int height) {
            this(report, report.rows(), null, g, width, height);
        }

        Painter(EvalReport report, List<EvalRow> rows, java.util.Map<String, EvalReport> curves, Graphics2D g, int width, int height) {
            this.report = report;
            this.rows = rows;
            this.curves = curves;
            this.g = g;
            this.width = width;
            this.height = height;
            this.x0 = LEFT;
            this.x1 = width - RIGHT;
            this.y0 = TOP;
            this.y1 = height - BOTTOM;
        }

        void paint() {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            ranges();
            axes();
            if (curves != null) {
                paintCurves();
                return;
            }
            List<EvalRow> front = front(report);
            if (front.size() > 1) {
                Path2D line = new Path2D.Double();
                for (int i = 0; i < front.size(); i++) {
                    double px = px(front.get(i).flops());
                    double py = py(y(report, front.get(i)));
                    if (i == 0) {
                        line.moveTo(px, py);
                    } else {
                        line.lineTo(px, py);
                    }
                }
                g.setColor(FRONT);
                g.setStroke(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {6f, 4f}, 0f));
                g.draw(line);
            }
            g.setStroke(new BasicStroke(1f));
            Color fill = new Color(POINT.getRed(), POINT.getGreen(), POINT.getBlue(), 200);
            for (EvalRow r : report.rows()) {
                if (r != report.full()) {
                    dot(px(r.flops()), py(y(report, r)), 4.5, fill, POINT.darker());
                }
            }
            EvalRow full = report.full();
            double fx = px(full.flops());
            double fy = py(y(report, full));
            dot(fx, fy, 8, FULL, Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
            String label = String.format(Locale.ROOT, "full model (%s)", report.task() == EvalReport.Task.CLASSIFICATION
                    ? String.format(Locale.ROOT, "%.2f%%", 100 * full.accuracy()) : String.format(Locale.ROOT, "loss %.3f", full.loss()));
            int w = textWidth(label);
            double lx = fx - 12 - w >= x0 + 4 ? fx - 12 - w : fx + 12;
            double ly = fy - 10 >= y0 + 14 ? fy - 10 : fy + 22;
            text(label, (int) lx, (int) ly, FULL.darker());
            legend(new int[] {(int) lx, (int) ly - 14, w, 18});
        }

        private void paintCurves() {
            int i = 0;
            for (EvalReport c : curves.values()) {
                Color colour = CURVES[i++];
                List<EvalRow> sorted = new ArrayList<>(c.rows());
                sorted.sort(Comparator.comparingLong(EvalRow::flops));
                Path2D line = new Path2D.Double();
                for (int k = 0; k < sorted.size(); k++) {
                    double px = px(sorted.get(k).flops());
                    double py = py(y(report, sorted.get(k)));
                    if (k == 0) {
                        line.moveTo(px, py);
                    } else {
                        line.lineTo(px, py);
                    }
                }
                g.setColor(colour);
                g.setStroke(new BasicStroke(2f));
                g.draw(line);
                g.setStroke(new BasicStroke(1f));
                for (EvalRow r : sorted) {
                    dot(px(r.flops()), py(y(report, r)), 4, colour, colour.darker());
                }
            }
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            int w = 0;
            for (String name : curves.keySet()) {
                w = Math.max(w, textWidth(name));
            }
            int boxW = w + 46;
            int boxH = 16 * curves.size() + 14;
            int bx = x1 - boxW - 10;
            int by = y1 - boxH - 10;
            g.setColor(new Color(255, 255, 255, 230));
            g.fillRect(bx, by, boxW, boxH);
            g.setColor(new Color(160, 160, 160));
            g.drawRect(bx, by, boxW, boxH);
            int row = by + 18;
            i = 0;
            for (String name : curves.keySet()) {
                Color colour = CURVES[i++];
                g.setColor(colour);
                g.setStroke(new BasicStroke(2f));
                g.drawLine(bx + 6, row - 4, bx + 26, row - 4);
                g.setStroke(new BasicStroke(1f));
                text(name, bx + 32, row, Color.BLACK);
                row += 16;
            }
        }

        private void ranges() {
            double minX = Double.MAX_VALUE;
            double maxX = -Double.MAX_VALUE;
            double minY = Double.MAX_VALUE;
            double maxY = -Double.MAX_VALUE;
            for (EvalRow r : rows) {
                double lx = Math.log10(Math.max(1, r.flops()));
                minX = Math.min(minX, lx);
                maxX = Math.max(maxX, lx);
                double y = y(report, r);
                if (Double.isFinite(y)) {
                    minY = Math.min(minY, y);
                    maxY = Math.max(maxY, y);
                }
            }
            if (minY > maxY) {
                minY = 0;
                maxY = 1;
            }
            if (maxX - minX < 1e-9) {
                minX -= 0.25;
                maxX += 0.25;
            }
            double padX = 0.06 * (maxX - minX);
            xlo = minX - padX;
            xhi = maxX + padX;
            if (maxY - minY < 1e-9) {
                double d = Math.max(0.5, 0.05 * Math.abs(maxY));
                minY -= d;
                maxY += d;
            }
            double padY = 0.08 * (maxY - minY);
            ylo = minY - padY;
            yhi = maxY + padY;
        }

        private double px(long flops) {
            return x0 + (Math.log10(Math.max(1, flops)) - xlo) / (xhi - xlo) * (x1 - x0);
        }

        private double py(double y) {
            return y1 - (y - ylo) / (yhi - ylo) * (y1 - y0);
        }

        private void axes() {
            Font tickFont = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
            Color grid = new Color(228, 228, 228);
            Color ink = new Color(40, 40, 40);
            g.setStroke(new BasicStroke(1f));
            g.setFont(tickFont);
            for (double lx : logTicks(xlo, xhi)) {
                int x = (int) Math.round(x0 + (lx - xlo) / (xhi - xlo) * (x1 - x0));
                g.setColor(grid);
                g.drawLine(x, y0, x, y1);
                g.setColor(ink);
                g.drawLine(x, y1, x, y1 + 5);
                String s = si(Math.pow(10, lx));
                text(s, x - textWidth(s) / 2, y1 + 20, ink);
            }
            double step = niceStep((yhi - ylo) / 6);
            int decimals = Math.max(0, (int) -Math.floor(Math.log10(step) + 1e-9));
            for (double v = Math.ceil(ylo / step) * step; v <= yhi + 1e-9 * step; v += step) {
                int y = (int) Math.round(py(v));
                g.setColor(grid);
                g.drawLine(x0, y, x1, y);
                g.setColor(ink);
                g.drawLine(x0 - 5, y, x0, y);
                String s = String.format(Locale.ROOT, "%." + decimals + "f", Math.abs(v) < step / 1e6 ? 0.0 : v);
                text(s, x0 - 9 - textWidth(s), y + 4, ink);
            }
            g.setColor(ink);
            g.drawRect(x0, y0, x1 - x0, y1 - y0);
            boolean cls = report.task() == EvalReport.Task.CLASSIFICATION;
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
            String xLabel = "FLOPs per " + report.task().unit() + " (log scale)";
            text(xLabel, (x0 + x1) / 2 - textWidth(xLabel) / 2, height - 22, ink);
            String yLabel = cls ? "validation accuracy (%)" : "validation loss (nats/token)";
            AffineTransform saved = g.getTransform();
            g.rotate(-Math.PI / 2);
            text(yLabel, -((y0 + y1) / 2 + textWidth(yLabel) / 2), 26, ink);
            g.setTransform(saved);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
            String title = curves != null ? String.format(Locale.ROOT, "%s vs FLOPs: %d methods", cls ? "Accuracy" : "Loss",
                    curves.size()) : String.format(Locale.ROOT, "%s vs FLOPs: %d sub-model%s", cls ? "Accuracy" : "Loss",
                    rows.size(), rows.size() == 1 ? "" : "s");
            text(title, (x0 + x1) / 2 - textWidth(title) / 2, 34, Color.BLACK);
        }

        /** The legend, in the corner where it covers the fewest points and not the full model's label {@code {x, y, w, h}}. */
        private void legend(int[] label) {
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            String[] labels = {"sub-model", "full model", "Pareto front (best within a FLOPs budget)"};
            int w = 0;
            for (String s : labels) {
                w = Math.max(w, textWidth(s));
            }
            int boxW = w + 46;
            int boxH = 16 * labels.length + 14;
            // The corner with the fewest points inside the box's area.
            int[][] corners = {{x1 - boxW - 10, y1 - boxH - 10}, {x1 - boxW - 10, y0 + 10}, {x0 + 10, y0 + 10}, {x0 + 10, y1 - boxH - 10}};
            int best = 0;
            int fewest = Integer.MAX_VALUE;
            for (int c = 0; c < corners.length; c++) {
                int n = 0;
                for (EvalRow r : rows) {
                    double x = px(r.flops());
                    double y = py(y(report, r));
                    boolean inside = x >= corners[c][0] - 8 && x <= corners[c][0] + boxW + 8 && y >= corners[c][1] - 8
                            && y <= corners[c][1] + boxH + 8;
                    if (inside) {
                        n++;
                    }
                }
                boolean overlapsLabel = label[0] < corners[c][0] + boxW && label[0] + label[2] > corners[c][0]
                        && label[1] < corners[c][1] + boxH && label[1] + label[3] > corners[c][1];
                if (overlapsLabel) {
                    n += 3;
                }
                if (n < fewest) {
                    fewest = n;
                    best = c;
                }
            }
            int bx = corners[best][0];
            int by = corners[best][1];
            g.setColor(new Color(255, 255, 255, 230));
            g.fillRect(bx, by, boxW, boxH);
            g.setColor(new Color(160, 160, 160));
            g.drawRect(bx, by, boxW, boxH);
            int row = by + 18;
            dot(bx + 16, row - 4, 4.5, POINT, POINT.darker());
            text(labels[0], bx + 32, row, Color.BLACK);
            row += 16;
            dot(bx + 16, row - 4, 7, FULL, Color.BLACK);
            text(labels[1], bx + 32, row, Color.BLACK);
            row += 16;
            g.setColor(FRONT);
            g.setStroke(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {6f, 4f}, 0f));
            g.drawLine(bx + 6, row - 4, bx + 26, row - 4);
            g.setStroke(new BasicStroke(1f));
            text(labels[2], bx + 32, row, Color.BLACK);
        }

        private void dot(double x, double y, double r, Color fill, Color outline) {
            Ellipse2D e = new Ellipse2D.Double(x - r, y - r, 2 * r, 2 * r);
            g.setColor(fill);
            g.fill(e);
            g.setColor(outline);
            g.draw(e);
        }

        /** Draws text; a JRE without usable fonts leaves the plot without text instead of failing. */
        private void text(String s, int x, int y, Color c) {
            if (!textWorks) {
                return;
            }
            try {
                g.setColor(c);
                g.drawString(s, x, y);
            } catch (RuntimeException | LinkageError e) {
                textWorks = false;
            } catch (Error e) {
                if (e instanceof VirtualMachineError) {
                    throw e;
                }
                textWorks = false;
            }
        }

        private int textWidth(String s) {
            if (!textWorks) {
                return 0;
            }
            try {
                FontMetrics fm = g.getFontMetrics();
                return fm.stringWidth(s);
            } catch (RuntimeException | LinkageError e) {
                textWorks = false;
                return 0;
            } catch (Error e) {
                if (e instanceof VirtualMachineError) {
                    throw e;
                }
                textWorks = false;
                return 0;
            }
        }
    }

    /** Tick positions (log10 values) for a log axis over {@code [lo, hi]} (log10 units). */
    static List<Double> logTicks(double lo, double hi) {
        List<Double> ticks = ticks(lo, hi, new int[] {1, 2, 5});
        if (ticks.size() < 4) {
            ticks = ticks(lo, hi, new int[] {1, 2, 3, 5});
        }
        if (ticks.size() < 4) {
            ticks = ticks(lo, hi, new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        }
        if (ticks.size() < 3) {
            // Less than a few steps of a decade: evenly spaced values, placed on the log axis.
            double a = Math.pow(10, lo);
            double b = Math.pow(10, hi);
            double step = niceStep((b - a) / 5);
            ticks = new ArrayList<>();
            for (double v = Math.ceil(a / step) * step; v <= b * (1 + 1e-12); v += step) {
                ticks.add(Math.log10(v));
            }
        }
        if (ticks.size() > 10) {
            ticks = ticks(lo, hi, new int[] {1});
        }
        if (ticks.size() > 10) {
            List<Double> thinned = new ArrayList<>();
            int every = (int) Math.ceil(ticks.size() / 10.0);
            for (int i = 0; i < ticks.size(); i += every) {
                thinned.add(ticks.get(i));
            }
            ticks = thinned;
        }
        return ticks;
    }

    private static List<Double> ticks(double lo, double hi, int[] mantissas) {
        List<Double> out = new ArrayList<>();
        for (int k = (int) Math.floor(lo); k <= (int) Math.ceil(hi); k++) {
            for (int m : mantissas) {
                double v = Math.log10(m) + k;
                if (v >= lo - 1e-12 && v <= hi + 1e-12) {
                    out.add(v);
                }
            }
        }
        return out;
    }

    /** 1, 2, 5 times a power of ten, at least {@code raw}. */
    static double niceStep(double raw) {
        if (!(raw > 0)) {
            return 1;
        }
        double p = Math.pow(10, Math.floor(Math.log10(raw)));
        double m = raw / p;
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
    }

    /** Compact SI form of a positive number: 500, 2k, 1.5M, 10G. */
    static String si(double v) {
        String[] units = {"", "k", "M", "G", "T", "P"};
        int u = 0;
        double x = v;
        while (Math.abs(x) >= 999.5 && u < units.length - 1) {
            x /= 1000;
            u++;
        }
        double rounded = Math.round(x * 10) / 10.0;
        String s = rounded == Math.rint(rounded) ? Long.toString((long) rounded) : String.format(Locale.ROOT, "%.1f", rounded);
        return s + units[u];
    }
}
