package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.Settings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetsTest {
    @TempDir
    Path dir;

    private static DataConfig config(Map<String, ?> values) {
        return DataConfig.from(Settings.of("data", values));
    }

    /** Splits a byte-token stream back into its documents at each EOS. */
    private static List<String> documents(TokenData data) {
        List<String> docs = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < data.size(); i++) {
            if (data.tokens()[i] == ByteTokenizer.EOS) {
                docs.add(new ByteTokenizer().decode(java.util.Arrays.copyOfRange(data.tokens(), start, i)));
                start = i + 1;
            }
        }
        return docs;
    }

    private void writeFortunes(String file, int count) throws IOException {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < count; i++) {
            text.append(file).append(" fortune number ").append(i).append(".\n%\n");
        }
        Files.writeString(dir.resolve(file), text);
    }

    @Test
    void textIsSplitByDocumentsBeforeConcatenation() throws IOException {
        writeFortunes("alpha", 30);
        writeFortunes("beta", 10);
        DataConfig config = config(Map.of("type", "text", "path", dir.toString(), "validation", 0.25));

        Split<TokenData> split = Datasets.text(config, Datasets.tokenizer(config), 42);

        List<String> train = documents(split.train());
        List<String> validation = documents(split.validation());
        assertThat(split.train().documentCount()).isEqualTo(30);
        assertThat(split.validation().documentCount()).isEqualTo(10);
        assertThat(validation).hasSize(10).doesNotContainAnyElementsOf(train);
        Set<String> all = new HashSet<>(train);
        all.addAll(validation);
        assertThat(all).hasSize(40).allMatch(d -> d.matches("(alpha|beta) fortune number \\d+\\."));
    }

    @Test
    void textSplitIsTheSameForTheSameSeedAndDiffersForAnother() throws IOException {
        writeFortunes("alpha", 50);
        DataConfig config = config(Map.of("type", "text", "path", dir.toString()));
        Tokenizer tokenizer = Datasets.tokenizer(config);

        Split<TokenData> a = Datasets.text(config, tokenizer, 1);
        Split<TokenData> b = Datasets.text(config, tokenizer, 1);
        Split<TokenData> c = Datasets.text(config, tokenizer, 2);

        assertThat(b.train().tokens()).isEqualTo(a.train().tokens());
        assertThat(b.validation().tokens()).isEqualTo(a.validation().tokens());
        assertThat(documents(c.validation())).isNotEqualTo(documents(a.validation()));
    }

    @Test
    void filesAndLimitChooseTheDocuments() throws IOException {
        writeFortunes("alpha", 30);
        writeFortunes("beta", 30);
        DataConfig config = config(Map.of("type", "text", "path", dir.toString(), "files", "beta", "limit", 20));

        Split<TokenData> split = Datasets.text(config, new ByteTokenizer(), 3);

        List<String> docs = new ArrayList<>(documents(split.train()));
        docs.addAll(documents(split.validation()));
        assertThat(docs).hasSize(20).allMatch(d -> d.startsWith("beta "));
    }

    @Test
    void extraTrainDocumentsJoinTheTrainingPartOnlyAndLeaveTheValidationSplitAsItWas() throws IOException {
        Path corpus = Files.createDirectories(dir.resolve("corpus"));
        Files.writeString(corpus.resolve("alpha"), "alpha one.\n%\nalpha two.\n%\nalpha three.\n%\nalpha four.\n%\nalpha five.\n%\n");
        Path extra = dir.resolve("generated.txt");
        Files.writeString(extra, "generated one.\n%\ngenerated two.\n%\n");
        DataConfig plain = config(Map.of("type", "text", "path", corpus.toString(), "validation", 0.4));
        DataConfig withExtra = config(Map.of("type", "text", "path", corpus.toString(), "validation", 0.4, "extra-train", extra.toString()));
        assertThat(withExtra.extraTrain()).containsExactly(extra);

        Split<TokenData> a = Datasets.text(plain, new ByteTokenizer(), 5);
        Split<TokenData> b = Datasets.text(withExtra, new ByteTokenizer(), 5);

        assertThat(b.validation().tokens()).isEqualTo(a.validation().tokens());
        List<String> expected = new ArrayList<>(documents(a.train()));
        expected.addAll(List.of("generated one.", "generated two."));
        assertThat(documents(b.train())).isEqualTo(expected);
    }

    @Test
    void extraTrainWithoutLabelsIsTheSameTextWhoseTargetsAreUnlabelled() throws IOException {
        Path corpus = Files.createDirectories(dir.resolve("corpus2"));
        writeFortunes("corpus2/alpha", 12);
        Path extra = Files.writeString(dir.resolve("gen.txt"), "generated one.\n%\ngenerated two.\n%\n");
        Map<String, Object> base = Map.of("type", "text", "path", corpus.toString(), "extra-train", extra.toString());
        DataConfig labelled = config(base);
        java.util.HashMap<String, Object> values = new java.util.HashMap<>(base);
        values.put("extra-train-labels", false);
        DataConfig unlabelled = config(values);
        assertThat(labelled.extraTrainLabels()).isTrue();
        assertThat(unlabelled.extraTrainLabels()).isFalse();

        Split<TokenData> a = Datasets.text(labelled, new ByteTokenizer(), 5);
        Split<TokenData> b = Datasets.text(unlabelled, new ByteTokenizer(), 5);

        assertThat(b.train().tokens()).isEqualTo(a.train().tokens());
        assertThat(b.validation().tokens()).isEqualTo(a.validation().tokens());
        assertThat(a.train().unlabelledFrom()).isEqualTo(a.train().size());
        int extraTokens = TokenData.encode(List.of("generated one.", "generated two."), new ByteTokenizer()).size();
        assertThat(b.train().unlabelledFrom()).isEqualTo(b.train().size() - extraTokens);
        assertThatThrownBy(() -> config(Map.of("type", "text", "path", corpus.toString(), "extra-train-labels", false)))
                .isInstanceOf(dev.manyfold.api.ConfigException.class).hasMessageContaining("data.extra-train-labels")
                .hasMessageContaining("no extra-train text");
    }

    @Test
    void aMissingOrBlankExtraTrainPathIsNamedWithItsIndex() throws IOException {
        writeFortunes("alpha", 10);
        Path blank = Files.writeString(dir.resolve("blank.txt"), "\n%\n\n");
        DataConfig missing = config(Map.of("type", "text", "path", dir.toString(), "files", "alpha", "extra-train",
                List.of(blank.toString(), dir.resolve("nope.txt").toString())));

        assertThatThrownBy(() -> Datasets.text(missing, new ByteTokenizer(), 1)).isInstanceOf(DataException.class)
                .hasMessageContaining("data.extra-train[0]").hasMessageContaining("blank.txt");
        DataConfig second = config(Map.of("type", "text", "path", dir.toString(), "files", "alpha", "extra-train",
                List.of(dir.resolve("alpha").toString(), dir.resolve("nope.txt").toString())));
        assertThatThrownBy(() -> Datasets.text(second, new ByteTokenizer(), 1)).isInstanceOf(DataException.class)
                .hasMessageContaining("data.extra-train[1]: " + dir.resolve("nope.txt") + " does not exist")
                .hasMessageContaining("manyfold generate");
        assertThatThrownBy(() -> DataSources.check(Settings.of("data", Map.of("type", "text", "path", dir.toString(), "extra-train",
                List.of(dir.resolve("nope.txt").toString()))), new Sampling(1, 1, 1)))
                .isInstanceOf(dev.manyfold.api.ConfigException.class).hasMessageContaining("data.extra-train[0]")
                .hasMessageContaining("does not exist");
    }

    @Test
    void tokenizerPathLoadsAHuggingFaceTokenizerAndMissingPathFailsClearly() {
        DataConfig config = config(Map.of("type", "text", "tokenizer", dir.resolve("missing.json").toString()));

        assertThat(Datasets.tokenizer(config(Map.of("type", "text")))).isInstanceOf(ByteTokenizer.class);
        assertThatThrownBy(() -> Datasets.tokenizer(config))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("missing.json")
                .hasMessageContaining("data.tokenizer");
    }

    @Test
    void fashionMnistValidatesOnItsTestPartUnlessAValidationShareIsSet() throws IOException {
        for (FashionMnist.Part part : FashionMnist.Part.values()) {
            int n = part == FashionMnist.Part.TRAIN ? 20 : 5;
            byte[] pixels = new byte[n * 4];
            byte[] labels = new byte[n];
            for (int i = 0; i < n; i++) {
                pixels[4 * i] = (byte) i;
                labels[i] = (byte) (i % 10);
            }
            IdxFiles.writeImages(dir.resolve(part.imagesFile()), n, 2, 2, pixels);
            IdxFiles.writeLabels(dir.resolve(part.labelsFile()), labels);
        }

        Split<ClassificationData> byTest = Datasets.classification(config(Map.of("type", "fashion-mnist", "path", dir.toString())), 0);
        Split<ClassificationData> byShare = Datasets.classification(
                config(Map.of("type", "fashion-mnist", "path", dir.toString(), "validation", 0.25)), 0);
        Split<ClassificationData> limited = Datasets.classification(
                config(Map.of("type", "fashion-mnist", "path", dir.toString(), "limit", 3)), 0);

        assertThat(byTest.train().size()).isEqualTo(20);
        assertThat(byTest.validation().size()).isEqualTo(5);
        assertThat(byShare.train().size()).isEqualTo(15);
        assertThat(byShare.validation().size()).isEqualTo(5);
        assertThat(limited.train().size()).isEqualTo(3);
        assertThat(limited.validation().size()).isEqualTo(3);
    }

    @Test
    void missingFashionMnistDirectoryNamesTheInstallCommand() {
        DataConfig config = config(Map.of("type", "fashion-mnist", "path", dir.resolve("absent").toString()));

        assertThatThrownBy(() -> Datasets.classification(config, 0))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("apt-get install dataset-fashion-mnist");
    }

    @Test
    void defaultTextRecipeGivesLanguageModelBatchesFromTheRealFortunes() {
        DataConfig config = config(Map.of("type", "text"));

        Split<TokenData> split = Datasets.text(config, Datasets.tokenizer(config), 42);
        TokenBatch batch = new LanguageModelBatcher(split.train(), config.context(), 4, 42).next();

        assertThat(split.train().size()).isGreaterThan(1_000_000);
        assertThat((double) split.validation().documentCount() / (split.train().documentCount() + split.validation().documentCount()))
                .isBetween(0.099, 0.101);
        assertThat(batch.inputs()).hasSize(4 * 128);
        assertThat(LanguageModelBatcher.windowCount(split.validation(), 128)).isGreaterThan(100);
    }
}
