package dev.manyfold.runtime.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * A streamed answer as server-sent events ({@code data: JSON}, ending in
 * {@code data: [DONE]}). The status line and headers are sent with the first event, so a
 * request refused before its first token still gets a plain JSON error. A write that fails
 * (the client went away) throws {@link ManyfoldServer.Cancelled}, which ends the decode.
 */
final class EventStream {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Context ctx;
    private final Responses responses;
    private OutputStream out;
    private boolean first = true;

    EventStream(Context ctx, Responses responses) {
        this.ctx = ctx;
        this.responses = responses;
    }

    boolean started() {
        return out != null;
    }

    void delta(String text) {
        send(responses.chunk(text, first));
        first = false;
    }

    void finish(ManyfoldServer.Outcome outcome) {
        if (first) {
            delta("");
        }
        send(responses.last(outcome));
        if (responses.includeUsage()) {
            send(responses.usageChunk(outcome));
        }
        write("data: [DONE]\n\n");
    }

    /** An error after the stream started: one event with OpenAI's error body, then the end. */
    void error(ApiError error) {
        send(error.body(JSON));
        write("data: [DONE]\n\n");
    }

    private void send(JsonNode event) {
        try {
            write("data: " + JSON.writeValueAsString(event) + "\n\n");
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void write(String text) {
        try {
            if (out == null) {
                HttpServletResponse res = ctx.res();
                res.setStatus(200);
                res.setContentType("text/event-stream;charset=utf-8");
                res.setHeader("Cache-Control", "no-cache");
                res.setHeader("X-Accel-Buffering", "no");
                out = res.getOutputStream();
            }
            out.write(text.getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            throw new ManyfoldServer.Cancelled("disconnect");
        }
    }
}
