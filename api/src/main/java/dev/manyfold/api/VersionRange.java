package dev.manyfold.api;

import static java.util.Objects.requireNonNull;

/**
 * A Maven-style version range such as {@code [1.0,2.0)}, {@code [1.0,)} or a bare minimum
 * {@code 1.0} (meaning {@code [1.0,)}). Versions compare numerically by dot-separated parts;
 * a qualifier after {@code -} is ignored. Immutable.
 */
public final class VersionRange {
    private final String text;
    private final int[] lower;
    private final boolean lowerInclusive;
    private final int[] upper;
    private final boolean upperInclusive;

    private VersionRange(String text, int[] lower, boolean lowerInclusive, int[] upper, boolean upperInclusive) {
        this.text = text;
        this.lower = lower;
        this.lowerInclusive = lowerInclusive;
        this.upper = upper;
        this.upperInclusive = upperInclusive;
    }

    /**
     * Parses a range.
     *
     * @throws IllegalArgumentException with a message saying what is accepted
     */
    public static VersionRange parse(String text) {
        requireNonNull(text, "text is null");
        String t = text.trim();
        try {
            if (!t.startsWith("[") && !t.startsWith("(")) {
                return new VersionRange(t, version(t), true, null, false);
            }
            if (!t.endsWith("]") && !t.endsWith(")")) {
                throw new IllegalArgumentException();
            }
            String body = t.substring(1, t.length() - 1);
            int comma = body.indexOf(',');
            if (comma < 0) {
                int[] exact = version(body);
                return new VersionRange(t, exact, true, exact, true);
            }
            String lo = body.substring(0, comma).trim();
            String hi = body.substring(comma + 1).trim();
            return new VersionRange(t, lo.isEmpty() ? null : version(lo), t.startsWith("["),
                    hi.isEmpty() ? null : version(hi), t.endsWith("]"));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("malformed version range \"" + text
                    + "\"; accepted: [1.0,2.0), [1.0,), (,2.0] or a minimum version such as 1.0");
        }
    }

    /** Whether the version lies in this range. */
    public boolean contains(String version) {
        int[] v = version(version);
        if (lower != null) {
            int c = compare(v, lower);
            if (c < 0 || (c == 0 && !lowerInclusive)) {
                return false;
            }
        }
        if (upper != null) {
            int c = compare(v, upper);
            return c < 0 || (c == 0 && upperInclusive);
        }
        return true;
    }

    @Override
    public String toString() {
        return text;
    }

    private static int[] version(String s) {
        String core = s.trim();
        int dash = core.indexOf('-');
        if (dash >= 0) {
            core = core.substring(0, dash);
        }
        String[] parts = core.split("\\.");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Integer.parseInt(parts[i]);
        }
        return out;
    }

    private static int compare(int[] a, int[] b) {
        for (int i = 0; i < Math.max(a.length, b.length); i++) {
            int x = i < a.length ? a[i] : 0;
            int y = i < b.length ? b[i] : 0;
            if (x != y) {
                return Integer.compare(x, y);
            }
        }
        return 0;
    }
}
