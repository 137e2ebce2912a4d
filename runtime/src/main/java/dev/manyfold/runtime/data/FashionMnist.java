package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Fashion-MNIST from IDX files: 28×28 grey-scale images of clothing in 10 classes, 60,000
 * for training and 10,000 for testing.
 *
 * <p>Files may be gzip-compressed (detected from their first bytes) or raw. Images become
 * {@code float[size * rows * cols]} scaled to {@code [0, 1]}, labels {@code int[size]}.
 */
public final class FashionMnist {
    /** Where the Debian package {@code dataset-fashion-mnist} installs the files. */
    public static final Path DEFAULT_DIRECTORY = Path.of("/usr/share/datasets/fashion-mnist");
    /** How to get the data set. */
    public static final String INSTALL_HINT = "install it with `apt-get install dataset-fashion-mnist` "
            + "(or set data.path to a directory holding the four IDX files)";
    /** Magic number of an IDX file of unsigned bytes with 3 dimensions (images). */
    public static final int IMAGES_MAGIC = 0x00000803;
    /** Magic number of an IDX file of unsigned bytes with 1 dimension (labels). */
    public static final int LABELS_MAGIC = 0x00000801;
    /** Number of classes. */
    public static final int CLASSES = 10;
    /** The side of the square images, in pixels. */
    public static final int SIDE = 28;
    /** Class names, indexed by label. */
    public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    /** The two parts the data set ships in. */
    public enum Part {
        /** 60,000 training examples. */
        TRAIN("train"),
        /** 10,000 test examples. */
        TEST("t10k");

        private final String prefix;

        Part(String prefix) {
            this.prefix = prefix;
        }

        /** File name of the images, e.g. {@code train-images-idx3-ubyte.gz}. */
        public String imagesFile() {
            return prefix + "-images-idx3-ubyte.gz";
        }

        /** File name of the labels, e.g. {@code train-labels-idx1-ubyte.gz}. */
        public String labelsFile() {
            return prefix + "-labels-idx1-ubyte.gz";
        }
    }

    private FashionMnist() {}

    /** All examples of a part from {@link #DEFAULT_DIRECTORY}. */
    public static ClassificationData load(Part part) {
        return load(DEFAULT_DIRECTORY, part, Integer.MAX_VALUE);
    }

    /**
     * The first {@code limit} examples of a part.
     *
     * @param directory the directory holding the four {@code *-ubyte.gz} files
     * @param part which part
     * @param limit the maximum number of examples; {@link Integer#MAX_VALUE} for all
     * @throws DataException when the directory or a file is missing (the message says how to
     *     install the data set), or a file is corrupt
     */
    public static ClassificationData load(Path directory, Part part, int limit) {
        requireNonNull(directory, "directory is null");
        requireNonNull(part, "part is null");
        if (!Files.isDirectory(directory)) {
            throw new DataException("Fashion-MNIST not found: directory " + directory + " does not exist; " + INSTALL_HINT);
        }
        Path images = directory.resolve(part.imagesFile());
        Path labels = directory.resolve(part.labelsFile());
        List<String> missing = new ArrayList<>();
        for (Path file : List.of(images, labels)) {
            if (!Files.isRegularFile(file)) {
                missing.add(file.getFileName().toString());
            }
        }
        if (!missing.isEmpty()) {
            throw new DataException("Fashion-MNIST incomplete: " + String.join(", ", missing) + " missing in " + directory
                    + "; " + INSTALL_HINT);
        }
        ClassificationData data = read(images, labels, limit);
        if (data.classCount() > CLASSES) {
            throw new DataException("labels file " + labels + " has label " + (data.classCount() - 1)
                    + "; Fashion-MNIST labels are 0.." + (CLASSES - 1));
        }
        return new ClassificationData(data.features(), data.featureCount(), data.featureShape(), data.labels(), CLASSES);
    }

    /**
     * Reads an IDX images file (magic {@code 0x00000803}: count, rows, cols, then bytes) and an
     * IDX labels file (magic {@code 0x00000801}: count, then bytes). The class count is the
     * largest label read plus one.
     *
     * @param limit the maximum number of examples; {@link Integer#MAX_VALUE} for all
     * @throws DataException naming the file when it is missing, not IDX, truncated or corrupt,
     *     or when the two files disagree on the number of examples
     */
    public static ClassificationData read(Path images, Path labels, int limit) {
        if (limit < 0) {
            throw new IllegalArgumentException("limit must be >= 0, got " + limit);
        }
        Idx imageFile = readIdx(images, IMAGES_MAGIC, "images", limit);
        Idx labelFile = readIdx(labels, LABELS_MAGIC, "labels", limit);
        if (imageFile.dims[0] != labelFile.dims[0]) {
            throw new DataException("images file " + images + " holds " + imageFile.dims[0] + " examples but labels file "
                    + labels + " holds " + labelFile.dims[0]);
        }
        int rows = imageFile.dims[1];
        int cols = imageFile.dims[2];
        byte[] pixels = imageFile.data;
        float[] features = new float[pixels.length];
        for (int i = 0; i < pixels.length; i++) {
            features[i] = (pixels[i] & 0xFF) / 255f;
        }
        int[] labelValues = new int[labelFile.data.length];
        int max = 0;
        for (int i = 0; i < labelValues.length; i++) {
            labelValues[i] = labelFile.data[i] & 0xFF;
            max = Math.max(max, labelValues[i]);
        }
        return new ClassificationData(features, rows * cols, List.of(rows, cols), labelValues, max + 1);
    }

    private static final class Idx {
        final int[] dims;
        final byte[] data;

        Idx(int[] dims, byte[] data) {
            this.dims = dims;
            this.data = data;
        }
    }

    private static Idx readIdx(Path file, int magic, String kind, int limit) {
        String what = kind + " file " + file;
        try (DataInputStream in = new DataInputStream(open(file))) {
            int found;
            try {
                found = in.readInt();
            } catch (EOFException e) {
                throw new DataException(what + " is empty or truncated: it ends before the IDX magic number");
            }
            if (found != magic) {
                throw new DataException(String.format("%s is not an IDX %s file: magic number 0x%08x, expected 0x%08x",
                        what, kind, found, magic));
            }
            int rank = magic & 0xFF;
            int[] dims = new int[rank];
            for (int d = 0; d < rank; d++) {
                try {
                    dims[d] = in.readInt();
                } catch (EOFException e) {
                    throw new DataException(what + " is truncated: it ends inside the header (dimension " + d + " of " + rank + ")");
                }
                if (dims[d] < (d == 0 ? 0 : 1)) {
                    throw new DataException(what + " is corrupt: dimension " + d + " is " + dims[d]);
                }
            }
            long perExample = 1;
            for (int d = 1; d < rank; d++) {
                perExample *= dims[d];
            }
            int count = Math.min(dims[0], limit);
            long bytes = count * perExample;
            if (bytes > Integer.MAX_VALUE - 8) {
                throw new DataException(what + " is too large: " + count + " examples x " + perExample + " bytes");
            }
            byte[] data = new byte[(int) bytes];
            int read = in.readNBytes(data, 0, data.length);
            if (read < data.length) {
                throw new DataException(what + " is truncated: the header promises " + dims[0] + " examples of " + perExample
                        + " bytes but the data ends after " + read / perExample + " examples");
            }
            if (count == dims[0] && in.read() != -1) {
                throw new DataException(what + " is corrupt: there are bytes after the " + dims[0] + " examples the header promises");
            }
            dims[0] = count;
            return new Idx(dims, data);
        } catch (NoSuchFileException e) {
            throw new DataException(what + " does not exist");
        } catch (ZipException | EOFException e) {
            throw new DataException(what + " is corrupt or truncated: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new DataException("cannot read " + what + ": " + e, e);
        }
    }

    private static InputStream open(Path file) throws IOException {
        BufferedInputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        if (b0 == 0x1f && b1 == 0x8b) {
            return new BufferedInputStream(new GZIPInputStream(in, 1 << 16), 1 << 16);
        }
        return in;
    }
}
