package dev.manyfold.runtime.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ChatPromptTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode messages(String json) throws Exception {
        return JSON.readTree(json);
    }

    private static final String TWO_TURNS = "[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"What is Unix?\"}]";

    @Test
    void aModelTunedOnTheChatTemplateGetsItsRoleHeadersAndTheAssistantHeaderLast() throws Exception {
        assertThat(ChatPrompt.render(messages(TWO_TURNS), "chat")).isEqualTo("<|system|>\nBe brief.\n<|user|>\nWhat is Unix?\n<|assistant|>\n");
    }

    @Test
    void anAlpacaTunedModelAnswersTheLastUserMessageAsItsInstruction() throws Exception {
        assertThat(ChatPrompt.render(messages(TWO_TURNS), "alpaca")).contains("### Instruction:\nWhat is Unix?\n\n### Response:\n")
                .doesNotContain("Be brief.");
        assertThat(ChatPrompt.render(messages(TWO_TURNS), "custom Q: {instruction}\nA:")).isEqualTo("Q: What is Unix?\nA:");
    }

    @Test
    void otherModelsGetRoleContentLinesEndingInAssistant() throws Exception {
        assertThat(ChatPrompt.render(messages(TWO_TURNS), ChatPrompt.PLAIN)).isEqualTo("system: Be brief.\nuser: What is Unix?\nassistant:");
    }

    @Test
    void theTemplateComesFromTheRunsInstructionData() {
        assertThat(ChatPrompt.templateOf(Map.of("data", Map.of("type", "instructions", "template", "chat")))).isEqualTo("chat");
        assertThat(ChatPrompt.templateOf(Map.of("data", Map.of("type", "instructions")))).isEqualTo("alpaca");
        assertThat(ChatPrompt.templateOf(Map.of("data", Map.of("type", "text")))).isEqualTo(ChatPrompt.PLAIN);
    }

    @Test
    void badMessagesAreRefusedNamingTheField() {
        assertThatThrownBy(() -> ChatPrompt.render(messages("[{\"role\": \"robot\", \"content\": \"hi\"}]"), "chat"))
                .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.param()).isEqualTo("messages[0].role"));
        assertThatThrownBy(() -> ChatPrompt.render(messages("[{\"role\": \"user\", \"content\": 3}]"), "chat"))
                .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.param()).isEqualTo("messages[0].content"));
        assertThatThrownBy(() -> ChatPrompt.render(messages("[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]"),
                "alpaca")).isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.param()).isEqualTo("messages[1].role"));
        assertThatThrownBy(() -> ChatPrompt.render(messages("[]"), "chat")).isInstanceOf(ApiError.class).hasMessageContaining("non-empty");
    }
}
