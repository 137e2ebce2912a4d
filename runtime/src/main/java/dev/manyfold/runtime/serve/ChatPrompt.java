package dev.manyfold.runtime.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyfold.runtime.data.InstructionData;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Renders chat messages as one prompt, in the format the model was tuned on: a run trained on
 * {@code data: { type: instructions, template: T }} gets T's format ({@code chat}: every
 * message as {@code <|role|>} and its content on the next line, then {@code <|assistant|>};
 * {@code alpaca} or {@code custom PROMPT}: the last user message is the instruction). Other
 * models get {@link #PLAIN}: every message a line {@code role: content}, ending in
 * {@code assistant:}.
 */
final class ChatPrompt {
    /** The template of models not tuned on instructions. */
    static final String PLAIN = "plain";

    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant");

    private ChatPrompt() {}

    /** The chat template of a run from its recipe: its instructions data's template, else {@link #PLAIN}. */
    static String templateOf(Map<String, Object> recipe) {
        if (recipe.get("data") instanceof Map<?, ?> data && InstructionData.TYPE.equals(data.get("type"))) {
            Object template = data.get("template");
            return template == null ? "alpaca" : template.toString();
        }
        return PLAIN;
    }

    static String render(JsonNode messages, String template) {
        List<String[]> turns = messages(messages);
        StringBuilder prompt = new StringBuilder();
        if (template.equals("chat")) {
            for (String[] t : turns) {
                prompt.append(InstructionData.chatHeader(t[0])).append(t[1]).append('\n');
            }
            return prompt.append(InstructionData.chatHeader("assistant")).toString();
        }
        if (template.equals("alpaca") || template.startsWith("custom ")) {
            String[] last = turns.get(turns.size() - 1);
            if (!last[0].equals("user")) {
                throw ApiError.invalid("messages[" + (turns.size() - 1) + "].role", "messages[" + (turns.size() - 1)
                        + "].role: this model was tuned on the " + template.split(" ")[0]
                        + " instruction template, which answers the last message as an instruction (accepted: a last message of role user)");
            }
            return InstructionData.prompt(template, last[1], "");
        }
        for (String[] t : turns) {
            prompt.append(t[0]).append(": ").append(t[1]).append('\n');
        }
        return prompt.append("assistant:").toString();
    }

    private static List<String[]> messages(JsonNode messages) {
        if (messages == null || messages.isNull()) {
            throw ApiError.invalid("messages", "messages: required field is missing (accepted: an array of {role, content})");
        }
        if (!messages.isArray() || messages.isEmpty()) {
            throw ApiError.invalid("messages", "messages: expected a non-empty array of {role, content}, got " + DecodePlan.kind(messages));
        }
        List<String[]> turns = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            JsonNode m = messages.get(i);
            String at = "messages[" + i + "]";
            if (!m.isObject()) {
                throw ApiError.invalid(at, at + ": expected an object {role, content}, got " + DecodePlan.kind(m));
            }
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual() || !ROLES.contains(role.asText())) {
                throw ApiError.invalid(at + ".role", at + ".role: " + (role == null ? "required field is missing" : "unknown role " + role)
                        + " (accepted: one of " + new java.util.TreeSet<>(ROLES) + ")");
            }
            JsonNode content = m.get("content");
            if (content == null || !content.isTextual()) {
                throw ApiError.invalid(at + ".content", at + ".content: expected a string, got "
                        + (content == null ? "nothing" : DecodePlan.kind(content)));
            }
            turns.add(new String[] {role.asText(), content.asText()});
        }
        return turns;
    }
}
