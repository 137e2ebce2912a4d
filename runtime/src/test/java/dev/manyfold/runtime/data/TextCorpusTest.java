package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextCorpusTest {
    @TempDir
    Path dir;

    private void fortunesDirectory() throws IOException {
        Files.writeString(dir.resolve("beta"), "Beta one.\n%\nBeta two,\n  indented.\n%\n");
        Files.writeString(dir.resolve("alpha"), "Alpha one.\n%\n\n    /\\_/\\\n   ( o.o )\n%\n%\nAlpha three.\n%\n");
        Files.writeString(dir.resolve("alpha.dat"), "\u0000\u0002binary index");
        Files.createSymbolicLink(dir.resolve("alpha.u8"), dir.resolve("alpha"));
        Files.createSymbolicLink(dir.resolve("gamma"), dir.resolve("beta"));
        Files.writeString(dir.resolve(".hidden"), "Hidden.\n");
        Files.createDirectory(dir.resolve("off"));
        Files.writeString(dir.resolve("off").resolve("rude"), "Not read.\n");
    }

    @Test
    void directoryOfFortunesGivesDocumentsInSortedFileOrder() throws IOException {
        fortunesDirectory();

        TextCorpus corpus = TextCorpus.read(dir);

        assertThat(corpus.files()).containsExactly("alpha", "beta");
        assertThat(corpus.documents()).containsExactly(
                "Alpha one.", "    /\\_/\\\n   ( o.o )", "Alpha three.", "Beta one.", "Beta two,\n  indented.");
    }

    @Test
    void symbolicLinkToAFileNotOtherwiseReadIsRead() throws IOException {
        Path outside = Files.createDirectory(dir.resolve("outside"));
        Path corpusDir = Files.createDirectory(dir.resolve("corpus"));
        Files.writeString(outside.resolve("real"), "Linked.\n");
        Files.writeString(corpusDir.resolve("local"), "Local.\n");
        Files.createSymbolicLink(corpusDir.resolve("linked"), outside.resolve("real"));

        TextCorpus corpus = TextCorpus.read(corpusDir);

        assertThat(corpus.files()).containsExactly("linked", "local");
        assertThat(corpus.documents()).containsExactly("Linked.", "Local.");
    }

    @Test
    void documentsAreSplitOnPercentLinesOnly() {
        List<String> docs = TextCorpus.parseDocuments("one\r\n%\r\n100% sure\n %\nstill two\n%\n   \n%\nthree, no final separator");

        assertThat(docs).containsExactly("one", "100% sure\n %\nstill two", "three, no final separator");
    }

    @Test
    void fileWithoutSeparatorsIsOneDocument() throws IOException {
        Path file = Files.writeString(dir.resolve("book.txt"), "Chapter 1\n\nIt was a dark night.\n");

        TextCorpus corpus = TextCorpus.read(file);

        assertThat(corpus.documents()).containsExactly("Chapter 1\n\nIt was a dark night.");
        assertThat(corpus.files()).containsExactly("book.txt");
    }

    @Test
    void globsSelectAndExcludeFilesByName() throws IOException {
        for (String name : List.of("computers", "linux", "linuxcookie", "love")) {
            Files.writeString(dir.resolve(name), name + " fortune\n%\n");
        }

        assertThat(TextCorpus.read(dir, List.of("computers", "linux*")).files())
                .containsExactly("computers", "linux", "linuxcookie");
        assertThat(TextCorpus.read(dir, List.of("!linux*")).documents())
                .containsExactly("computers fortune", "love fortune");
        assertThat(TextCorpus.read(dir, List.of("l*", "!linuxcookie")).files())
                .containsExactly("linux", "love");
    }

    @Test
    void globMatchingNothingListsTheAvailableFiles() throws IOException {
        Files.writeString(dir.resolve("computers"), "x\n");
        Files.writeString(dir.resolve("love"), "y\n");

        assertThatThrownBy(() -> TextCorpus.read(dir, List.of("compu*", "startrek")))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("data.files")
                .hasMessageContaining("\"startrek\" matches no text file")
                .hasMessageContaining("computers, love");
    }

    @Test
    void missingPathTellsHowToInstallFortunes() {
        Path missing = dir.resolve("fortunes");

        assertThatThrownBy(() -> TextCorpus.read(missing))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("apt-get install fortunes")
                .hasMessageContaining("data.path");
    }

    @Test
    void directoryWithoutTextFilesIsRejected() throws IOException {
        Files.writeString(dir.resolve("only.dat"), "index");

        assertThatThrownBy(() -> TextCorpus.read(dir))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("no text files");
    }

    @Test
    void sampleIsSeededAndKeepsCorpusOrder() {
        TextCorpus corpus = TextCorpus.of(List.of("a", "b", "c", "d", "e", "f", "g", "h"));

        List<String> first = corpus.sample(4, 11).documents();

        assertThat(first).hasSize(4).isSorted().isSubsetOf(corpus.documents());
        assertThat(corpus.sample(4, 11).documents()).isEqualTo(first);
        assertThat(corpus.sample(100, 11)).isSameAs(corpus);
    }

    @Test
    void realFortunesAreReadWithoutIndexFilesOrDuplicates() {
        // Fails with the install hint when the fortunes package is not installed.
        TextCorpus corpus = TextCorpus.read(TextCorpus.DEFAULT_PATH);

        assertThat(corpus.files()).contains("fortunes", "computers", "linux")
                .noneMatch(name -> name.endsWith(".dat") || name.endsWith(".u8"))
                .doesNotHaveDuplicates();
        assertThat(corpus.size()).isGreaterThan(10_000);
        assertThat(corpus.documents()).noneMatch(d -> d.lines().anyMatch("%"::equals)).noneMatch(String::isBlank);
        assertThat(TextCorpus.read(TextCorpus.DEFAULT_PATH).documents()).isEqualTo(corpus.documents());

        TextCorpus subset = TextCorpus.read(TextCorpus.DEFAULT_PATH, List.of("computers", "linux*"));
        assertThat(subset.files()).containsExactly("computers", "linux", "linuxcookie");
        assertThat(subset.size()).isBetween(100, corpus.size() / 2);
    }
}
