package dev.manyfold.runtime.serve;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Set;

/**
 * Renders chat messages as one prompt. Until tokenizers carry a chat template, every
 * message becomes a line {@code role: content} and the prompt ends with {@code assistant:},
 * the plain transcript the small models trained here continue naturally.
 */
final class ChatPrompt {
    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant");

    private ChatPrompt() {}

    static String render(JsonNode messages) {
        if (messages == null || messages.isNull()) {
            throw ApiError.invalid("messages", "messages: required field is missing (accepted: an array of {role, content})");
        }
        if (!messages.isArray() || messages.isEmpty()) {
            throw ApiError.invalid("messages", "messages: expected a non-empty array of {role, content}, got " + DecodePlan.kind(messages));
        }
        StringBuilder prompt = new StringBuilder();
        for (int i = 0; i < messages.size(); i++) {
            JsonNode m = messages.get(i);
            String at = "messages[" + i + "]";
            if (!m.isObject()) {
                throw ApiError.invalid(at, at + ": expected an object {role, content}, got " + DecodePlan.kind(m));
            }
            String role = DecodePlan.text(m, "role", null);
            if (role == null || !ROLES.contains(role)) {
                throw ApiError.invalid(at + ".role", at + ".role: " + (role == null ? "required field is missing" : "unknown role \"" + role + "\"")
                        + " (accepted: one of " + new java.util.TreeSet<>(ROLES) + ")");
            }
            JsonNode content = m.get("content");
            if (content == null || !content.isTextual()) {
                throw ApiError.invalid(at + ".content", at + ".content: expected a string, got "
                        + (content == null ? "nothing" : DecodePlan.kind(content)));
            }
            prompt.append(role).append(": ").append(content.asText()).append('\n');
        }
        return prompt.append("assistant:").toString();
    }
}
