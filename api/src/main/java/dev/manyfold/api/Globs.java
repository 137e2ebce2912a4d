package dev.manyfold.api;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Glob targets over dotted site names. {@code *} matches within one dotted segment,
 * {@code **} across segments; a glob without wildcards matches a site that equals it or
 * ends with {@code "." + glob}. Example: {@code layers.*.attn.q_proj}, {@code *.v_proj}.
 */
public final class Globs {
    private Globs() {}

    /** Whether the site name matches the glob. */
    public static boolean matches(String glob, String site) {
        if (!glob.contains("*")) {
            return site.equals(glob) || site.endsWith("." + glob);
        }
        return toPattern(glob).matcher(site).matches() || toPattern("**." + glob).matcher(site).matches();
    }

    /** Whether any of the globs matches the site. @since 1.1 */
    public static boolean matches(Collection<String> globs, String site) {
        for (String glob : globs) {
            if (matches(glob, site)) {
                return true;
            }
        }
        return false;
    }

    /** Sites matched by any of the globs, in the order of {@code sites}. */
    public static List<String> select(Collection<String> globs, Collection<String> sites) {
        List<String> out = new ArrayList<>();
        for (String site : sites) {
            for (String glob : globs) {
                if (matches(glob, site)) {
                    out.add(site);
                    break;
                }
            }
        }
        return out;
    }

    /**
     * The model's sites matched by the globs, in model order.
     *
     * @param path the recipe path of the globs, named when none matches
     * @throws ConfigException at {@code path} when the globs match no site
     */
    public static List<String> selectSites(Collection<String> globs, ModelShape shape, String path) {
        return selectOrRefuse(globs, shape.sites(), " of this " + shape.family() + " model", path);
    }

    /** As {@link #selectSites}, over plain site names (hosts that hold the model itself). */
    public static List<String> selectOrRefuse(Collection<String> globs, Collection<String> sites, String where, String path) {
        List<String> selected = select(globs, sites);
        if (selected.isEmpty()) {
            throw new ConfigException(path, "the targets " + globs + " match no linear site" + where,
                    "globs over sites such as " + sites.stream().limit(4).toList());
        }
        return selected;
    }

    private static Pattern toPattern(String glob) {
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            if (c == '*') {
                if (i + 1 < glob.length() && glob.charAt(i + 1) == '*') {
                    re.append(".*");
                    i++;
                } else {
                    re.append("[^.]*");
                }
            } else {
                re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(re.toString());
    }
}
