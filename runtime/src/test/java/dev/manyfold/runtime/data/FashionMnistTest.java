package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTest {
    @TempDir
    Path dir;

    /** Three 2x3 images whose pixels are 0, 51, 102, ... and labels 7, 0, 3. */
    private Path writeSmallSet(FashionMnist.Part part) throws IOException {
        byte[] pixels = new byte[3 * 6];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) (i * 51 % 256);
        }
        pixels[17] = (byte) 255;
        IdxFiles.writeImages(dir.resolve(part.imagesFile()), 3, 2, 3, pixels);
        IdxFiles.writeLabels(dir.resolve(part.labelsFile()), new byte[] {7, 0, 3});
        return dir;
    }

    @Test
    void gzipIdxFilesRoundTripToScaledFeaturesAndLabels() throws IOException {
        writeSmallSet(FashionMnist.Part.TRAIN);

        ClassificationData data = FashionMnist.load(dir, FashionMnist.Part.TRAIN, Integer.MAX_VALUE);

        assertThat(data.size()).isEqualTo(3);
        assertThat(data.featureCount()).isEqualTo(6);
        assertThat(data.featureShape()).containsExactly(2, 3);
        assertThat(data.labels()).containsExactly(7, 0, 3);
        assertThat(data.classCount()).isEqualTo(FashionMnist.CLASSES);
        assertThat(data.features()[0]).isEqualTo(0f);
        assertThat(data.features()[1]).isCloseTo(0.2f, within(1e-6f));
        assertThat(data.features()[5]).isCloseTo(((5 * 51) % 256) / 255f, within(1e-6f));
        assertThat(data.features()[17]).isEqualTo(1f);
    }

    @Test
    void uncompressedIdxFilesAreReadToo() throws IOException {
        Path images = Files.write(dir.resolve("images.idx"),
                IdxFiles.idx(FashionMnist.IMAGES_MAGIC, new int[] {1, 1, 2}, new byte[] {0, (byte) 255}));
        Path labels = Files.write(dir.resolve("labels.idx"),
                IdxFiles.idx(FashionMnist.LABELS_MAGIC, new int[] {1}, new byte[] {4}));

        ClassificationData data = FashionMnist.read(images, labels, Integer.MAX_VALUE);

        assertThat(data.features()).containsExactly(0f, 1f);
        assertThat(data.labels()).containsExactly(4);
        assertThat(data.classCount()).isEqualTo(5);
    }

    @Test
    void limitKeepsOnlyTheFirstExamples() throws IOException {
        writeSmallSet(FashionMnist.Part.TEST);

        ClassificationData data = FashionMnist.load(dir, FashionMnist.Part.TEST, 2);

        assertThat(data.size()).isEqualTo(2);
        assertThat(data.labels()).containsExactly(7, 0);
        assertThat(data.features()).hasSize(12);
    }

    @Test
    void wrongMagicNumberIsRejectedNamingTheFile() throws IOException {
        writeSmallSet(FashionMnist.Part.TRAIN);
        Path images = dir.resolve(FashionMnist.Part.TRAIN.imagesFile());
        // A labels file where an images file belongs.
        IdxFiles.writeLabels(images, new byte[] {1, 2});

        assertThatThrownBy(() -> FashionMnist.load(dir, FashionMnist.Part.TRAIN, Integer.MAX_VALUE))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(images.toString())
                .hasMessageContaining("magic number 0x00000801, expected 0x00000803");
    }

    @Test
    void truncatedDataIsRejectedNamingTheFile() throws IOException {
        Path images = Files.write(dir.resolve("images.gz"),
                IdxFiles.gzip(IdxFiles.idx(FashionMnist.IMAGES_MAGIC, new int[] {3, 2, 2}, new byte[9])));
        Path labels = IdxFiles.writeLabels(dir.resolve("labels.gz"), new byte[] {0, 1, 2});

        assertThatThrownBy(() -> FashionMnist.read(images, labels, Integer.MAX_VALUE))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(images.toString())
                .hasMessageContaining("truncated")
                .hasMessageContaining("ends after 2 examples");
    }

    @Test
    void truncatedGzipStreamIsRejectedNamingTheFile() throws IOException {
        byte[] whole = IdxFiles.gzip(IdxFiles.idx(FashionMnist.IMAGES_MAGIC, new int[] {50, 8, 8}, randomBytes(50 * 64)));
        Path images = Files.write(dir.resolve("images.gz"), Arrays.copyOf(whole, whole.length / 2));
        Path labels = IdxFiles.writeLabels(dir.resolve("labels.gz"), new byte[50]);

        assertThatThrownBy(() -> FashionMnist.read(images, labels, Integer.MAX_VALUE))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(images.toString())
                .hasMessageContaining("truncated");
    }

    @Test
    void garbageAfterGzipHeaderIsRejectedAsCorrupt() throws IOException {
        byte[] bytes = randomBytes(200);
        bytes[0] = 0x1f;
        bytes[1] = (byte) 0x8b;
        bytes[2] = 8;
        bytes[3] = 0;
        Path images = Files.write(dir.resolve("images.gz"), bytes);
        Path labels = IdxFiles.writeLabels(dir.resolve("labels.gz"), new byte[1]);

        assertThatThrownBy(() -> FashionMnist.read(images, labels, Integer.MAX_VALUE))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(images.toString())
                .hasMessageContaining("corrupt");
    }

    @Test
    void imageAndLabelCountsMustAgree() throws IOException {
        Path images = IdxFiles.writeImages(dir.resolve("images.gz"), 2, 1, 1, new byte[2]);
        Path labels = IdxFiles.writeLabels(dir.resolve("labels.gz"), new byte[3]);

        assertThatThrownBy(() -> FashionMnist.read(images, labels, Integer.MAX_VALUE))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("holds 2 examples")
                .hasMessageContaining("holds 3");
    }

    @Test
    void labelsBeyondTheTenClassesAreRejected() throws IOException {
        IdxFiles.writeImages(dir.resolve(FashionMnist.Part.TRAIN.imagesFile()), 1, 1, 1, new byte[1]);
        IdxFiles.writeLabels(dir.resolve(FashionMnist.Part.TRAIN.labelsFile()), new byte[] {12});

        assertThatThrownBy(() -> FashionMnist.load(dir, FashionMnist.Part.TRAIN, Integer.MAX_VALUE))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("label 12");
    }

    @Test
    void missingDirectoryTellsHowToInstall() {
        Path missing = dir.resolve("nowhere");

        assertThatThrownBy(() -> FashionMnist.load(missing, FashionMnist.Part.TRAIN, Integer.MAX_VALUE))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("apt-get install dataset-fashion-mnist")
                .hasMessageContaining("data.path");
    }

    @Test
    void missingFileIsNamedWithTheInstallHint() throws IOException {
        writeSmallSet(FashionMnist.Part.TRAIN);
        Files.delete(dir.resolve(FashionMnist.Part.TRAIN.labelsFile()));

        assertThatThrownBy(() -> FashionMnist.load(dir, FashionMnist.Part.TRAIN, Integer.MAX_VALUE))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("train-labels-idx1-ubyte.gz missing")
                .hasMessageContaining("apt-get install dataset-fashion-mnist");
    }

    @Test
    void realFashionMnistHas60000TrainAnd10000TestImagesInTenClasses() {
        // Fails with the install hint when dataset-fashion-mnist is not installed.
        ClassificationData train = FashionMnist.load(FashionMnist.Part.TRAIN);
        ClassificationData test = FashionMnist.load(FashionMnist.Part.TEST);

        assertThat(train.size()).isEqualTo(60_000);
        assertThat(test.size()).isEqualTo(10_000);
        assertThat(train.featureShape()).containsExactly(28, 28);
        assertThat(train.features()).hasSize(60_000 * 784);
        int[] perClass = new int[FashionMnist.CLASSES];
        for (int label : train.labels()) {
            perClass[label]++;
        }
        assertThat(perClass).containsOnly(6_000);
        assertThat(Arrays.stream(test.labels()).distinct().sorted().toArray()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (float f : test.features()) {
            min = Math.min(min, f);
            max = Math.max(max, f);
        }
        assertThat(min).isEqualTo(0f);
        assertThat(max).isEqualTo(1f);
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new java.util.Random(7).nextBytes(b);
        return b;
    }
}
