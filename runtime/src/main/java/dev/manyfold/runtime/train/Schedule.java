package dev.manyfold.runtime.train;

/** Learning-rate schedules: linear warm-up, then cosine decay to 10% of the peak, or constant. */
public final class Schedule {
    private Schedule() {}

    /** The learning rate at optimiser step {@code step} (1-based). */
    public static double lr(TrainConfig c, long step) {
        if (c.warmup() > 0 && step <= c.warmup()) {
            return c.lr() * step / c.warmup();
        }
        if (c.schedule().equals("constant")) {
            return c.lr();
        }
        double progress = (double) (step - c.warmup()) / Math.max(1, c.steps() - c.warmup());
        double floor = 0.1 * c.lr();
        return floor + (c.lr() - floor) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1.0, progress)));
    }
}
