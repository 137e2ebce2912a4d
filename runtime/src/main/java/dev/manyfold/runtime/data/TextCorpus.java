package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Plain-text documents read from a file or a directory, in a deterministic order.
 *
 * <p>A directory is read non-recursively, files sorted by name. Hidden files, the
 * {@code fortune} index files ({@code *.dat}) and their UTF-8 aliases ({@code *.u8}) are
 * skipped, and so is a symbolic link to a file that is already read. Within a file,
 * documents are separated by lines holding only {@code %} (the {@code fortune} format); a
 * file without such lines is one document. Trailing white space and leading blank lines of
 * each document are removed; blank documents are dropped. Files are decoded as UTF-8, with
 * malformed bytes replaced.
 */
public final class TextCorpus {
    /** Where the Debian package {@code fortunes} installs its files. */
    public static final Path DEFAULT_PATH = Path.of("/usr/share/games/fortunes");
    /** How to get the default corpus. */
    public static final String INSTALL_HINT = "install it with `apt-get install fortunes` "
            + "(or set data.path to a text file or a directory of text files)";

    private final List<String> documents;
    private final List<String> files;

    private TextCorpus(List<String> documents, List<String> files) {
        this.documents = List.copyOf(documents);
        this.files = List.copyOf(files);
    }

    /** A corpus of the given documents, e.g. for tests. */
    public static TextCorpus of(List<String> documents) {
        return new TextCorpus(requireNonNull(documents, "documents is null"), List.of());
    }

    /** All text files of {@code path}; see {@link #read(Path, List)}. */
    public static TextCorpus read(Path path) {
        return read(path, List.of());
    }

    /**
     * Reads a file, or the text files of a directory chosen by name globs.
     *
     * @param path a text file or a directory of text files
     * @param fileGlobs globs over file names ({@code computers}, {@code linux*}); a glob
     *     starting with {@code !} excludes. Empty selects every file. Each including glob
     *     must match at least one file.
     * @throws DataException when the path does not exist (the message says how to install the
     *     default corpus), a glob matches nothing (the message lists the files), or nothing is
     *     left to read
     */
    public static TextCorpus read(Path path, List<String> fileGlobs) {
        requireNonNull(path, "path is null");
        requireNonNull(fileGlobs, "fileGlobs is null");
        TreeMap<String, Path> selected = files(path, fileGlobs);
        List<String> documents = new ArrayList<>();
        for (Path file : selected.values()) {
            try {
                documents.addAll(parseDocuments(new String(Files.readAllBytes(file), StandardCharsets.UTF_8)));
            } catch (IOException e) {
                throw new DataException("cannot read text file " + file + ": " + e, e);
            }
        }
        if (documents.isEmpty()) {
            throw new DataException("text corpus " + path + " holds no documents (files " + selected.keySet() + " are blank)");
        }
        return new TextCorpus(documents, new ArrayList<>(selected.keySet()));
    }

    /** The largest text file read (bytes); larger ones are refused before reading. */
    public static final long MAX_FILE_BYTES = 1L << 30;

    /**
     * The files {@link #read} would read, checked without reading them: the path exists and
     * is a directory or a regular file (not a device or pipe), globs match, each file is at
     * most {@link #MAX_FILE_BYTES}.
     *
     * @throws DataException naming the path or glob otherwise
     */
    public static TreeMap<String, Path> files(Path path, List<String> fileGlobs) {
        if (!Files.exists(path)) {
            throw new DataException("text corpus not found: " + path + " does not exist; " + INSTALL_HINT);
        }
        TreeMap<String, Path> candidates = new TreeMap<>();
        if (Files.isDirectory(path)) {
            candidates.putAll(textFiles(path));
        } else if (Files.isRegularFile(path)) {
            candidates.put(path.getFileName().toString(), path);
        } else {
            throw new DataException("data.path: " + path + " is not a regular file or a directory (devices and pipes are not read)");
        }
        TreeMap<String, Path> selected = select(path, candidates, fileGlobs);
        if (selected.isEmpty()) {
            throw new DataException("text corpus " + path + " has no text files to read"
                    + (fileGlobs.isEmpty() ? "" : " after applying data.files " + fileGlobs));
        }
        for (Path file : selected.values()) {
            try {
                if (Files.size(file) > MAX_FILE_BYTES) {
                    throw new DataException("data.path: text file " + file + " is " + Files.size(file) + " bytes, more than the limit of "
                            + MAX_FILE_BYTES);
                }
            } catch (IOException e) {
                throw new DataException("cannot read text file " + file + ": " + e, e);
            }
        }
        return selected;
    }

    /**
     * Splits text in the {@code fortune} format: documents separated by lines holding only
     * {@code %}. Leading blank lines and trailing white space of each document are removed;
     * blank documents are dropped.
     */
    public static List<String> parseDocuments(String text) {
        List<String> documents = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            String content = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
            if (content.equals("%")) {
                addDocument(documents, current);
                current.setLength(0);
            } else {
                current.append(content).append('\n');
            }
        }
        addDocument(documents, current);
        return documents;
    }

    /** The documents, in file-name order, then in file order. */
    public List<String> documents() {
        return documents;
    }

    /** The names of the files read, sorted; empty for a corpus made with {@link #of}. */
    public List<String> files() {
        return files;
    }

    /** The number of documents. */
    public int size() {
        return documents.size();
    }

    /** The documents at the given indices, in that order. */
    public List<String> select(int[] indices) {
        List<String> out = new ArrayList<>(indices.length);
        for (int index : indices) {
            out.add(documents.get(index));
        }
        return out;
    }

    /**
     * At most {@code limit} documents drawn at random (seeded), kept in corpus order; this
     * corpus itself when it is not larger. A seeded draw rather than a prefix, so that a
     * small limit still samples every file.
     */
    public TextCorpus sample(int limit, long seed) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be >= 1, got " + limit);
        }
        if (limit >= size()) {
            return this;
        }
        int[] chosen = Arrays.copyOf(SplitMix.stream(seed, SplitMix.SAMPLE, size()).permutation(size()), limit);
        Arrays.sort(chosen);
        return new TextCorpus(select(chosen), files);
    }

    @Override
    public String toString() {
        return "TextCorpus[documents=" + size() + ", files=" + files + "]";
    }

    private static void addDocument(List<String> documents, StringBuilder text) {
        int start = 0;
        // Drop leading blank lines, but keep the indentation of the first non-blank line.
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\n') {
                start = i + 1;
            } else if (!Character.isWhitespace(c)) {
                break;
            }
        }
        String document = text.substring(start).stripTrailing();
        if (!document.isBlank()) {
            documents.add(document);
        }
    }

    private static TreeMap<String, Path> textFiles(Path directory) {
        List<Path> entries;
        try (Stream<Path> list = Files.list(directory)) {
            entries = list.sorted().toList();
        } catch (IOException e) {
            throw new DataException("cannot list text corpus directory " + directory + ": " + e, e);
        }
        TreeMap<String, Path> files = new TreeMap<>();
        Set<Path> realFiles = new HashSet<>();
        List<Path> links = new ArrayList<>();
        for (Path entry : entries) {
            String name = entry.getFileName().toString();
            if (name.startsWith(".") || name.endsWith(".dat") || name.endsWith(".u8")) {
                continue;
            }
            if (Files.isSymbolicLink(entry)) {
                links.add(entry);
            } else if (Files.isRegularFile(entry, LinkOption.NOFOLLOW_LINKS)) {
                files.put(name, entry);
                realFiles.add(realPath(entry));
            }
        }
        for (Path link : links) {
            if (Files.isRegularFile(link) && realFiles.add(realPath(link))) {
                files.put(link.getFileName().toString(), link);
            }
        }
        return files;
    }

    private static Path realPath(Path file) {
        try {
            return file.toRealPath();
        } catch (IOException e) {
            throw new DataException("cannot resolve " + file + ": " + e, e);
        }
    }

    private static TreeMap<String, Path> select(Path path, TreeMap<String, Path> candidates, List<String> globs) {
        List<String> includes = new ArrayList<>();
        List<String> excludes = new ArrayList<>();
        for (String glob : globs) {
            if (glob.startsWith("!")) {
                excludes.add(glob.substring(1));
            } else {
                includes.add(glob);
            }
        }
        TreeMap<String, Path> selected = new TreeMap<>();
        if (includes.isEmpty()) {
            selected.putAll(candidates);
        }
        for (String glob : includes) {
            PathMatcher matcher = matcher(glob);
            boolean any = false;
            for (var e : candidates.entrySet()) {
                if (matcher.matches(Path.of(e.getKey()))) {
                    selected.put(e.getKey(), e.getValue());
                    any = true;
                }
            }
            if (!any) {
                throw new DataException("data.files: glob \"" + glob + "\" matches no text file in " + path
                        + " (files: " + String.join(", ", candidates.keySet()) + ")");
            }
        }
        for (String glob : excludes) {
            PathMatcher matcher = matcher(glob);
            selected.keySet().removeIf(name -> matcher.matches(Path.of(name)));
        }
        return selected;
    }

    private static PathMatcher matcher(String glob) {
        try {
            return FileSystems.getDefault().getPathMatcher("glob:" + glob);
        } catch (IllegalArgumentException e) {
            throw new DataException("data.files: \"" + glob + "\" is not a valid glob: " + e.getMessage(), e);
        }
    }
}
