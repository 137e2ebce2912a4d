package dev.manyfold.runtime.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One validated completion request: the prompt's tokens, the token budget and the decoder
 * its budget selects. Every refusal is an {@link ApiError} naming the request field.
 *
 * <p>The budget comes from {@code model} ({@code RUN} is the full model, {@code RUN:exit-N}
 * greedy decoding at trained exit N) and from the {@code manyfold} extension object
 * ({@code {"decoder": "self-speculative", "draft": 2}}), whose keys are decoder settings
 * validated by the decoder's factory exactly as {@code --set} would, with paths such as
 * {@code manyfold.draft}. {@code temperature > 0} samples ({@code temperature}, {@code top_p},
 * {@code seed} become the decoder's {@code temperature}, {@code top-p} and {@code seed}); a
 * request without a seed gets a random one, reported back so the answer can be reproduced.
 */
record DecodePlan(boolean chat, String model, String budget, String decoderType, Map<String, Object> settings, Decoder decoder,
        int[] prompt, int maxTokens, boolean stream, boolean includeUsage, List<String> stops) {
    private static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_p", "seed", "stop", "stream",
            "stream_options", "n", "user", "manyfold", "presence_penalty", "frequency_penalty", "logprobs", "logit_bias");
    private static final Set<String> COMPLETION = Set.of("prompt", "echo", "best_of", "suffix");
    private static final Set<String> CHAT = Set.of("messages", "max_completion_tokens", "top_logprobs");

    /** The limits one request must stay within. */
    record Limits(int maxTokens) {}

    static DecodePlan parse(JsonNode body, boolean chat, ServedModel served, Limits limits, ObjectMapper json) {
        if (body == null || !body.isObject()) {
            throw ApiError.invalid(null, "the request body must be a JSON object");
        }
        Set<String> accepted = new java.util.TreeSet<>(COMMON);
        accepted.addAll(chat ? CHAT : COMPLETION);
        body.fieldNames().forEachRemaining(f -> {
            if (!accepted.contains(f)) {
                throw ApiError.invalid(f, f + ": unknown field (accepted: " + accepted + ")");
            }
        });
        LanguageModel lm = served.model();
        String model = text(body, "model", null);
        if (model == null) {
            throw ApiError.invalid("model", "model: required field is missing (accepted: one of " + Budgets.ids(served) + ")");
        }
        int exit = Budgets.exitOf(served, model);
        requireDefault(body, "n", 1, "only n = 1 is served");
        requireDefault(body, "best_of", 1, "only best_of = 1 is served");
        requireDefault(body, "presence_penalty", 0, "penalties are not supported");
        requireDefault(body, "frequency_penalty", 0, "penalties are not supported");
        requireFalse(body, "echo");
        requireFalse(body, "logprobs");
        if (body.hasNonNull("logit_bias") && !body.get("logit_bias").isEmpty()) {
            throw ApiError.invalid("logit_bias", "logit_bias: not supported (accepted: an empty object or null)");
        }
        if (body.hasNonNull("suffix")) {
            throw ApiError.invalid("suffix", "suffix: not supported (accepted: null)");
        }
        boolean stream = bool(body, "stream", false);
        boolean includeUsage = false;
        if (body.hasNonNull("stream_options")) {
            JsonNode options = body.get("stream_options");
            if (!options.isObject()) {
                throw ApiError.invalid("stream_options", "stream_options: expected an object such as {\"include_usage\": true}");
            }
            includeUsage = bool(options, "include_usage", false, "stream_options.include_usage");
        }

        String prompt = chat ? ChatPrompt.render(body.get("messages"), served.chatTemplate()) : completionPrompt(body.get("prompt"));
        int[] tokens = served.tokenizer().encode(prompt);
        String promptField = chat ? "messages" : "prompt";
        if (tokens.length == 0) {
            throw ApiError.invalid(promptField, promptField + ": the prompt is empty; decoding needs at least one prompt token");
        }
        int context = lm.contextLength();
        if (tokens.length >= context) {
            throw ApiError.invalid(promptField, "context_length_exceeded", promptField + ": the prompt has " + tokens.length
                    + " tokens but the model's context is " + context + " tokens, which leaves no room for a completion; shorten it to at most "
                    + (context - 1) + " tokens");
        }
        String maxField = chat && body.hasNonNull("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        int maxTokens;
        if (body.hasNonNull(maxField)) {
            maxTokens = integer(body, maxField);
            if (maxTokens < 1) {
                throw ApiError.invalid(maxField, maxField + ": " + maxTokens + " is below 1 (accepted: 1 to " + limits.maxTokens() + ")");
            }
            if (maxTokens > limits.maxTokens()) {
                throw ApiError.invalid(maxField, maxField + ": " + maxTokens + " exceeds this server's per-request limit of "
                        + limits.maxTokens() + " tokens (accepted: 1 to " + limits.maxTokens() + "; the server's --max-tokens)");
            }
            if (tokens.length + maxTokens > context) {
                throw ApiError.invalid(maxField, "context_length_exceeded", maxField + ": the prompt (" + tokens.length + " tokens) plus "
                        + maxTokens + " new tokens exceeds the model's context of " + context + " tokens; at most "
                        + (context - tokens.length) + " new tokens fit after this prompt");
            }
        } else {
            maxTokens = Math.min(limits.maxTokens(), context - tokens.length);
        }
        List<String> stops = stops(body.get("stop"));

        Map<String, Object> settings = new LinkedHashMap<>();
        String defaultDecoder;
        try {
            defaultDecoder = served.decoders().defaultName(); // the factory declaring isDefault(); the host names none
        } catch (IllegalArgumentException e) {
            throw ApiError.invalid("manyfold.decoder", "manyfold.decoder: " + e.getMessage());
        }
        String decoderType = defaultDecoder;
        if (body.hasNonNull("manyfold")) {
            JsonNode ext = body.get("manyfold");
            if (!ext.isObject()) {
                throw ApiError.invalid("manyfold", "manyfold: expected an object such as {\"decoder\": \"self-speculative\", \"draft\": 2}");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> values = json.convertValue(ext, LinkedHashMap.class);
            settings.putAll(values);
            Object type = settings.remove("decoder");
            if (type != null) {
                if (!(type instanceof String name)) {
                    throw ApiError.invalid("manyfold.decoder", "manyfold.decoder: expected a decoder name (accepted: one of "
                            + served.decoders().names() + ")");
                }
                decoderType = name;
            }
        }
        if (exit != lm.layers()) {
            if (!decoderType.equals(defaultDecoder) || settings.containsKey("exit")) {
                throw ApiError.invalid("model", "model: " + model + " selects " + defaultDecoder + " decoding at exit " + exit
                        + "; to choose the decoder or its exit with the manyfold field, ask for model " + served.id());
            }
            settings.put("exit", exit);
        }
        double temperature = number(body, "temperature", 0);
        if (temperature < 0 || temperature > 2) {
            throw ApiError.invalid("temperature", "temperature: " + temperature + " is outside [0, 2]");
        }
        double topP = number(body, "top_p", 1);
        if (!(topP > 0 && topP <= 1)) {
            throw ApiError.invalid("top_p", "top_p: " + topP + " is outside (0, 1]");
        }
        if (body.hasNonNull("seed")) {
            integer(body, "seed");
        }
        if (temperature > 0) {
            settings.put("temperature", temperature);
            if (topP < 1) {
                settings.put("top-p", topP);
            }
            settings.put("seed", body.hasNonNull("seed") ? body.get("seed").asLong() : ThreadLocalRandom.current().nextLong(1L << 53));
        }
        Decoder decoder;
        try {
            decoder = served.decoders().create(decoderType, settings, "manyfold", "manyfold.decoder");
        } catch (ConfigException e) {
            throw invalid(e);
        }
        String budget = exit != lm.layers() ? model : decoderType.equals(defaultDecoder) ? model : model + "/" + decoderType;
        return new DecodePlan(chat, model, budget, decoderType, settings, decoder, tokens, maxTokens, stream, includeUsage, stops);
    }

    /** A decoder's refusal as a 400 naming the request field: sampling keys map back to the OpenAI field. */
    static ApiError invalid(ConfigException e) {
        String param = switch (e.path()) {
            case "manyfold.temperature" -> "temperature";
            case "manyfold.top-p" -> "top_p";
            case "manyfold.seed" -> "seed";
            default -> e.path();
        };
        return ApiError.invalid(param, e.getMessage());
    }

    private static String completionPrompt(JsonNode prompt) {
        if (prompt == null || prompt.isNull()) {
            throw ApiError.invalid("prompt", "prompt: required field is missing (accepted: a string)");
        }
        if (prompt.isArray() && prompt.size() == 1 && prompt.get(0).isTextual()) {
            return prompt.get(0).asText();
        }
        if (!prompt.isTextual()) {
            throw ApiError.invalid("prompt", "prompt: expected a string (or an array of one string), got " + kind(prompt));
        }
        return prompt.asText();
    }

    private static List<String> stops(JsonNode stop) {
        List<String> out = new ArrayList<>();
        if (stop == null || stop.isNull()) {
            return out;
        }
        if (stop.isTextual()) {
            out.add(stop.asText());
        } else if (stop.isArray() && stop.size() <= 4) {
            for (JsonNode s : stop) {
                if (!s.isTextual()) {
                    throw ApiError.invalid("stop", "stop: expected a string or an array of up to 4 strings, got an element " + kind(s));
                }
                out.add(s.asText());
            }
        } else {
            throw ApiError.invalid("stop", "stop: expected a string or an array of up to 4 strings, got " + kind(stop));
        }
        if (out.stream().anyMatch(String::isEmpty)) {
            throw ApiError.invalid("stop", "stop: a stop sequence is empty");
        }
        return out;
    }

    static String text(JsonNode node, String field, String fallback) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isTextual()) {
            throw ApiError.invalid(field, field + ": expected a string, got " + kind(v));
        }
        return v.asText();
    }

    private static int integer(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw ApiError.invalid(field, field + ": expected an integer, got " + kind(v));
        }
        return v.asInt();
    }

    private static double number(JsonNode node, String field, double fallback) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw ApiError.invalid(field, field + ": expected a number, got " + kind(v));
        }
        return v.asDouble();
    }

    private static boolean bool(JsonNode node, String field, boolean fallback) {
        return bool(node, field, fallback, field);
    }

    private static boolean bool(JsonNode node, String field, boolean fallback, String path) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw ApiError.invalid(path, path + ": expected true or false, got " + kind(v));
        }
        return v.asBoolean();
    }

    private static void requireDefault(JsonNode node, String field, double value, String why) {
        if (node.hasNonNull(field) && number(node, field, value) != value) {
            throw ApiError.invalid(field, field + ": " + node.get(field) + " is not supported: " + why);
        }
    }

    private static void requireFalse(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v != null && !v.isNull() && !(v.isBoolean() && !v.asBoolean())) {
            throw ApiError.invalid(field, field + ": not supported (accepted: false or null)");
        }
    }

    static String kind(JsonNode v) {
        String shown = v.toString();
        return v.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + " " + (shown.length() > 40 ? shown.substring(0, 40) + "..." : shown);
    }
}
