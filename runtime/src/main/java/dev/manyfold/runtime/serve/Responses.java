package dev.manyfold.runtime.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The JSON bodies of one request, in OpenAI's shapes ({@code text_completion},
 * {@code chat.completion} and their stream chunks) plus the {@code manyfold} extension: the
 * budget, decoder and settings used, the server's timings and the decoder's statistics
 * (acceptance rate, mean exit depth, full passes per token...).
 */
final class Responses {
    private final ObjectMapper json;
    private final DecodePlan plan;
    private final String id;
    private final long created;

    Responses(ObjectMapper json, DecodePlan plan, String id, long created) {
        this.json = json;
        this.plan = plan;
        this.id = id;
        this.created = created;
    }

    boolean includeUsage() {
        return plan.includeUsage();
    }

    ObjectNode complete(ManyfoldServer.Outcome outcome) {
        ObjectNode root = head(plan.chat() ? "chat.completion" : "text_completion");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        if (plan.chat()) {
            ObjectNode message = choice.putObject("message");
            message.put("role", "assistant");
            message.put("content", outcome.text());
        } else {
            choice.put("text", outcome.text());
            choice.putNull("logprobs");
        }
        choice.put("finish_reason", outcome.finish());
        usage(root, outcome);
        extension(root, outcome);
        return root;
    }

    /** A stream chunk carrying text; for chat, {@code role} starts the first one. */
    ObjectNode chunk(String text, boolean first) {
        ObjectNode root = head(plan.chat() ? "chat.completion.chunk" : "text_completion");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        if (plan.chat()) {
            ObjectNode delta = choice.putObject("delta");
            if (first) {
                delta.put("role", "assistant");
            }
            delta.put("content", text);
        } else {
            choice.put("text", text);
            choice.putNull("logprobs");
        }
        choice.putNull("finish_reason");
        return root;
    }

    /** The last chunk with text: its finish reason, usage and the extension. */
    ObjectNode last(ManyfoldServer.Outcome outcome) {
        ObjectNode root = chunk("", false);
        ObjectNode choice = (ObjectNode) root.get("choices").get(0);
        if (plan.chat()) {
            choice.set("delta", json.createObjectNode());
        }
        choice.put("finish_reason", outcome.finish());
        usage(root, outcome);
        extension(root, outcome);
        return root;
    }

    /** The usage-only chunk ({@code stream_options.include_usage}). */
    ObjectNode usageChunk(ManyfoldServer.Outcome outcome) {
        ObjectNode root = head(plan.chat() ? "chat.completion.chunk" : "text_completion");
        root.putArray("choices");
        usage(root, outcome);
        return root;
    }

    private ObjectNode head(String object) {
        ObjectNode root = json.createObjectNode();
        root.put("id", id);
        root.put("object", object);
        root.put("created", created);
        root.put("model", plan.model());
        return root;
    }

    private void usage(ObjectNode root, ManyfoldServer.Outcome outcome) {
        ObjectNode usage = root.putObject("usage");
        usage.put("prompt_tokens", plan.prompt().length);
        usage.put("completion_tokens", outcome.tokens());
        usage.put("total_tokens", plan.prompt().length + outcome.tokens());
    }

    private void extension(ObjectNode root, ManyfoldServer.Outcome outcome) {
        ObjectNode ext = root.putObject("manyfold");
        ext.put("budget", plan.budget());
        ext.put("decoder", plan.decoderType());
        ext.set("settings", json.valueToTree(plan.settings()));
        ObjectNode timing = ext.putObject("timing");
        timing.put("seconds", outcome.seconds());
        timing.put("time_to_first_token_seconds", outcome.firstToken());
        if (outcome.tokens() > 1 && outcome.decodeSeconds() > 0) {
            timing.put("tokens_per_second", (outcome.tokens() - 1) / outcome.decodeSeconds());
        }
        ObjectNode statistics = ext.putObject("statistics");
        outcome.statistics().forEach((k, v) -> {
            if (Double.isFinite(v)) {
                statistics.put(k, v);
            } else {
                statistics.putNull(k);
            }
        });
    }

}
