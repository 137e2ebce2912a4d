package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.serve.ManyfoldServer;
import dev.manyfold.runtime.serve.ServeOptions;
import dev.manyfold.runtime.serve.ServedModel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code manyfold serve} called through the official OpenAI Java SDK, as its users will call it. */
class ServeOpenAiClientTest {
    private static final String KEY = "test-key";

    static Manyfold host;
    static ServedModel served;
    static ManyfoldServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        Path run = ServeFixtures.trained();
        host = ServeFixtures.host();
        served = ServeFixtures.load(host, run);
        server = ManyfoldServer.start(served, ServeOptions.loopback().withConcurrency(2, 8).withApiKey(KEY));
        client = client(KEY);
    }

    private static OpenAIClient client(String key) {
        return OpenAIOkHttpClient.builder().baseUrl(server.url() + "/v1").apiKey(key).maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (served != null) {
            served.resources().close();
        }
        if (host != null) {
            host.close();
        }
    }

    @Test
    void theModelListNamesEachBudget() {
        assertThat(client.models().list().data()).extracting(Model::id).containsExactly("run", "run:exit-2");
        assertThat(client.models().retrieve("run:exit-2").id()).isEqualTo("run:exit-2");
        assertThat(catchThrowableOfType(NotFoundException.class, () -> client.models().retrieve("run:exit-4")).code())
                .contains("model_not_found");
    }

    @Test
    void aCompletionAtAnExitBudgetReportsUsageAndExitDepth() {
        Completion c = client.completions().create(CompletionCreateParams.builder().model("run:exit-2").prompt("The computer")
                .maxTokens(10).build());

        assertThat(c.choices()).hasSize(1);
        assertThat(c.choices().get(0).text()).isNotEmpty();
        assertThat(c.usage().orElseThrow().completionTokens()).isEqualTo(10);
        assertThat(c._additionalProperties().get("manyfold").toString()).contains("mean-exit-depth").contains("2.0");
    }

    @Test
    void theManyfoldFieldChoosesSelfSpeculativeDecodingWithGreedysOutput() {
        CompletionCreateParams greedy = CompletionCreateParams.builder().model("run").prompt("Unix is").maxTokens(16).build();
        CompletionCreateParams speculative = greedy.toBuilder().putAdditionalBodyProperty("manyfold",
                JsonValue.from(Map.of("decoder", "self-speculative", "draft", 2))).build();

        Completion g = client.completions().create(greedy);
        Completion s = client.completions().create(speculative);

        assertThat(s.choices().get(0).text()).isEqualTo(g.choices().get(0).text());
        assertThat(s._additionalProperties().get("manyfold").toString()).contains("acceptance-rate");
    }

    @Test
    void chatAnswersAndStreamsTheSameText() {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("run").addUserMessage("What is a computer?")
                .maxCompletionTokens(12).build();

        ChatCompletion answer = client.chat().completions().create(params);
        String streamed;
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
            streamed = stream.stream().flatMap(chunk -> chunk.choices().stream()).map(choice -> choice.delta().content().orElse(""))
                    .collect(Collectors.joining());
        }

        assertThat(answer.choices().get(0).message().content().orElseThrow()).isNotEmpty().isEqualTo(streamed);
        assertThat(answer.usage().orElseThrow().completionTokens()).isEqualTo(12);
    }

    @Test
    void completionStreamingEndsAndMatchesTheWholeAnswer() {
        CompletionCreateParams params = CompletionCreateParams.builder().model("run").prompt("Memory").maxTokens(15).build();
        String whole = client.completions().create(params).choices().get(0).text();
        String streamed;
        try (StreamResponse<Completion> stream = client.completions().createStreaming(params)) {
            streamed = stream.stream().flatMap(c -> c.choices().stream()).map(c -> c.text()).collect(Collectors.joining());
        }
        assertThat(streamed).isEqualTo(whole);
    }

    @Test
    void badRequestsRaiseTheSdksTypedErrorsAndTheServerKeepsServing() {
        NotFoundException unknown = catchThrowableOfType(NotFoundException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model("run:exit-3").prompt("a").maxTokens(4).build()));
        assertThat(unknown.code()).contains("model_not_found");
        assertThat(unknown.param()).contains("model");

        BadRequestException draft = catchThrowableOfType(BadRequestException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model("run").prompt("a").maxTokens(4)
                        .putAdditionalBodyProperty("manyfold", JsonValue.from(Map.of("decoder", "self-speculative", "draft", 3))).build()));
        assertThat(draft.param()).contains("manyfold.draft");
        assertThat(draft.getMessage()).contains("draft exit 3 is not a trained exit of this model");

        BadRequestException tooMany = catchThrowableOfType(BadRequestException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model("run").prompt("a").maxTokens(100_000).build()));
        assertThat(tooMany.param()).contains("max_tokens");

        BadRequestException zero = catchThrowableOfType(BadRequestException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model("run").prompt("a").maxTokens(0).build()));
        assertThat(zero.param()).contains("max_tokens");

        BadRequestException longPrompt = catchThrowableOfType(BadRequestException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model("run").prompt("word ".repeat(300)).maxTokens(4).build()));
        assertThat(longPrompt.code()).contains("context_length_exceeded");

        BadRequestException badType = catchThrowableOfType(BadRequestException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model("run").prompt("a").maxTokens(4)
                        .putAdditionalBodyProperty("temperature", JsonValue.from("hot")).build()));
        assertThat(badType.param()).contains("temperature");

        OpenAIServiceException wrongKey = catchThrowableOfType(UnauthorizedException.class, () -> client("nope").models().list());
        assertThat(wrongKey.statusCode()).isEqualTo(401);

        assertThat(client.completions().create(CompletionCreateParams.builder().model("run").prompt("a").maxTokens(4).build())
                .choices()).hasSize(1);
    }
}
