package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import dev.manyfold.api.objective.Losses;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InstructionDataTest {
    @TempDir
    Path tmp;

    private static final Sampling TRAIN = new Sampling(3, 1, 5);

    private InstructionData open(Path file, Map<String, Object> extra) {
        Map<String, Object> s = new LinkedHashMap<>(Map.of("type", "instructions", "path", file.toString(), "context", 200));
        s.putAll(extra);
        return InstructionData.open(Settings.of("data", s), TRAIN);
    }

    private Path jsonl(String... lines) throws Exception {
        return Files.writeString(tmp.resolve("data.jsonl"), String.join("\n", lines) + "\n");
    }

    @Test
    void alpacaRowsTrainOnTheResponseAndEosOnlyAndPadWithIgnoredPositions() {
        List<InstructionData.Segment> segments = InstructionData.render(new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode()
                .put("instruction", "Say hi").put("output", "hi"), "alpaca", "x:1");
        ByteTokenizer bytes = new ByteTokenizer();
        InstructionData.Row row = InstructionData.encode(segments, bytes, 200);
        String prompt = InstructionData.ALPACA.replace("{instruction}", "Say hi");
        int p = prompt.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;

        assertThat(segments.get(0).text()).isEqualTo(prompt).endsWith("### Response:\n");
        for (int i = 0; i < p - 1; i++) {
            assertThat(row.labels()[i]).as("prompt position %d", i).isEqualTo(InstructionData.IGNORE);
        }
        assertThat(row.labels()[p - 1]).isEqualTo('h'); // the last prompt token predicts the first response token
        assertThat(row.labels()[p]).isEqualTo('i');
        assertThat(row.labels()[p + 1]).isEqualTo(ByteTokenizer.EOS);
        assertThat(row.labels()[p + 2]).isEqualTo(InstructionData.IGNORE);
        assertThat(row.inputs()[p + 2]).isEqualTo(ByteTokenizer.EOS); // padding
        assertThat(row.inputs()).hasSize(200);
    }

    @Test
    void chatTrainsOnAssistantContentsOnlyAndAlpacaUsesTheInputVariant() throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        List<InstructionData.Segment> chat = InstructionData.render(json.readTree("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"},"
                + " {\"role\": \"assistant\", \"content\": \"b\"}]}"), "chat", "x:1");
        assertThat(chat).extracting(InstructionData.Segment::text).containsExactly("<|user|>\n", "a\n", "<|assistant|>\n", "b\n");
        assertThat(chat).extracting(InstructionData.Segment::trained).containsExactly(false, false, false, true);

        List<InstructionData.Segment> withInput = InstructionData.render(json.readTree("{\"instruction\": \"i\", \"input\": \"x\","
                + " \"output\": \"o\"}"), "alpaca", "x:1");
        assertThat(withInput.get(0).text()).contains("### Input:\nx").contains("paired with an input");
        assertThat(InstructionData.render(json.readTree("{\"instruction\": \"i\", \"input\": \"x\", \"output\": \"o\"}"),
                "custom Q: {instruction} ({input})\nA: ", "x:1").get(0).text()).isEqualTo("Q: i (x)\nA: ");
    }

    @Test
    void theLossCountsOnlyNonNegativeLabels() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = m.create(new float[] {1, 2, 3, 0, 0, 5, 2, 2, 2}, new Shape(1, 3, 3));
            float masked = Losses.crossEntropy(logits, m.create(new int[] {2, -100, 0}, new Shape(1, 3))).getFloat();
            float first = Losses.crossEntropy(logits.get("0, 0:1"), m.create(new int[] {2}, new Shape(1))).getFloat();
            float last = Losses.crossEntropy(logits.get("0, 2:3"), m.create(new int[] {0}, new Shape(1))).getFloat();

            assertThat(masked).isCloseTo((first + last) / 2, org.assertj.core.data.Offset.offset(1e-6f));
            assertThat(new HostBatch(null, new int[3], new long[] {1, 3}, new int[] {2, -100, 0}, new long[] {1, 3}).labelCount())
                    .isEqualTo(2);
        }
    }

    @Test
    void examplesAreSplitIntoTrainAndValidationAndBatchesAreAFunctionOfTheStep() throws Exception {
        String[] lines = new String[20];
        for (int i = 0; i < lines.length; i++) {
            lines[i] = "{\"instruction\": \"q" + i + "\", \"output\": \"answer " + i + "\"}";
        }
        InstructionData data = open(jsonl(lines), Map.of("validation", 0.2));

        assertThat(data.describe()).contains("16 train / 4 validation examples");
        assertThat(data.train(3, 0).tokens()).isEqualTo(data.train(3, 0).tokens()).isNotEqualTo(data.train(4, 0).tokens());
        assertThat(data.validation(10)).hasSize(2); // 4 examples in batches of 3
        assertThat(data.train(1, 0).inputShape()).containsExactly(3, 200);
    }

    @Test
    void badInputIsRefusedNamingTheFileLineFieldOrRecipeKey() throws Exception {
        Path file = jsonl("{\"instruction\": \"a\", \"output\": \"b\"}", "{\"instruction\": \"a\"}");
        assertThatThrownBy(() -> open(file, Map.of())).isInstanceOf(DataException.class).hasMessageContaining(file + ":2: field output");
        Path notJson = jsonl("{\"instruction\": \"a\", \"output\": \"b\"}", "nope");
        assertThatThrownBy(() -> open(notJson, Map.of())).hasMessageContaining(notJson + ":2: not a JSON object");
        assertThatThrownBy(() -> open(file, Map.of("template", "custom {question}"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("data.template").hasMessageContaining("{question}");
        assertThatThrownBy(() -> open(file, Map.of("template", "vicuna"))).hasMessageContaining("data.template")
                .hasMessageContaining("alpaca, chat");
        assertThatThrownBy(() -> open(tmp.resolve("missing.jsonl"), Map.of())).hasMessageContaining("missing.jsonl does not exist");
    }
}
