package dev.manyfold.runtime.data;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Writes small IDX files for tests. */
final class IdxFiles {
    private IdxFiles() {}

    static byte[] idx(int magic, int[] dims, byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(magic);
            for (int d : dims) {
                out.writeInt(d);
            }
            out.write(data);
        }
        return bytes.toByteArray();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream out = new GZIPOutputStream(bytes)) {
            out.write(raw);
        }
        return bytes.toByteArray();
    }

    static Path writeImages(Path file, int count, int rows, int cols, byte[] pixels) throws IOException {
        return Files.write(file, gzip(idx(FashionMnist.IMAGES_MAGIC, new int[] {count, rows, cols}, pixels)));
    }

    static Path writeLabels(Path file, byte[] labels) throws IOException {
        return Files.write(file, gzip(idx(FashionMnist.LABELS_MAGIC, new int[] {labels.length}, labels)));
    }
}
