package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.Settings;
import dev.manyfold.runtime.model.ModelFactory;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Instruction tuning data (Alpaca-style SFT, as the Sorted LLaMA paper ran SoFT):
 *
 * <pre>{@code
 * data: { type: instructions, path: FILE.jsonl, template: alpaca | chat | "custom PROMPT",
 *         context: 256, validation: 0.1, tokenizer: byte | tokenizer.json, limit: 1000 }
 * }</pre>
 *
 * One JSON object per line: {@code instruction}, optional {@code input}, {@code output}; or
 * {@code messages: [{role, content}, ...]} for {@code chat}. Each example is one row of
 * {@code context} positions: the prompt, the response and EOS, truncated to the context and
 * padded with EOS. Labels of prompt and padding positions are {@link #IGNORE} so the loss
 * (see {@code Losses.crossEntropy}) is taken on the response tokens only.
 *
 * <p>Templates: {@code alpaca} is the Stanford Alpaca prompt (with and without input);
 * {@code chat} renders messages as {@code <|role|>\ncontent\n} with the loss on assistant
 * contents (Zephyr-like; the tokenizer's Jinja {@code chat_template} is <em>not</em> rendered:
 * Manyfold has no Jinja engine, and a partial one would silently train on prompts that differ
 * from what {@code transformers} renders); {@code "custom PROMPT"} is a prompt with
 * {@code {instruction}} and {@code {input}} placeholders, the response following it.
 *
 * <p>Training batches are {@code batch} examples drawn with replacement by a seeded stream per
 * step, so resumed runs see the same batches; validation is a seeded share of the examples.
 */
public final class InstructionData implements TrainingData {
    /** The type name in a recipe. */
    public static final String TYPE = "instructions";
    /** Label of a position that does not count toward the loss (the prompt and padding). */
    public static final int IGNORE = -100;
    /** The built-in templates ({@code custom ...} besides). */
    public static final List<String> TEMPLATES = List.of("alpaca", "chat", "custom PROMPT");

    static final String ALPACA_INPUT = "Below is an instruction that describes a task, paired with an input that provides further context."
            + " Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}"
            + "\n\n### Response:\n";
    static final String ALPACA = "Below is an instruction that describes a task. Write a response that appropriately completes the"
            + " request.\n\n### Instruction:\n{instruction}\n\n### Response:\n";
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([a-z_]+)}");

    /** A rendered example: its text segments and whether each is trained on. */
    record Segment(String text, boolean trained) {}

    /** One tokenised example, {@code context} positions. */
    record Row(int[] inputs, int[] labels, int[] tokens) {}

    private final Path path;
    private final int context;
    private final int batch;
    private final long seed;
    private final Tokenizer tokenizer;
    private final List<Row> train;
    private final List<Row> validation;
    private final int truncated;
    private final int dropped;

    private InstructionData(Path path, int context, int batch, long seed, Tokenizer tokenizer, List<Row> train, List<Row> validation,
            int truncated, int dropped) {
        this.path = path;
        this.context = context;
        this.batch = batch;
        this.seed = seed;
        this.tokenizer = tokenizer;
        this.train = train;
        this.validation = validation;
        this.truncated = truncated;
        this.dropped = dropped;
    }

    /** The section's settings, checked (unknown keys refused). */
    private record Options(Path path, String template, int context, double fraction, String tokenizer, int limit) {}

    private static Options options(Settings s) {
        s.getChoice("type", List.of(TYPE), null);
        Path path = Path.of(s.getString("path"));
        String template = s.getString("template", "alpaca");
        s.check(template.equals("alpaca") || template.equals("chat") || template.startsWith("custom "), "template",
                "unknown template \"" + template + "\"", "alpaca, chat or \"custom PROMPT\" with {instruction} and {input}");
        if (template.startsWith("custom ")) {
            Matcher m = PLACEHOLDER.matcher(template);
            while (m.find()) {
                s.check(m.group(1).equals("instruction") || m.group(1).equals("input"), "template", "unknown placeholder {" + m.group(1)
                        + "}", "{instruction} and {input}");
            }
        }
        int context = s.getInt("context", 256, 4, 1 << 20);
        double fraction = s.getDouble("validation", 0.1);
        s.check(fraction > 0 && fraction < 1, "validation", "fraction " + fraction + " is out of range", "a fraction in (0, 1), e.g. 0.1");
        String tokenizerName = s.getString("tokenizer", DataConfig.BYTE_TOKENIZER);
        int limit = s.getInt("limit", Integer.MAX_VALUE, 2, Integer.MAX_VALUE);
        s.rejectUnknown();
        return new Options(path, template, context, fraction, tokenizerName, limit);
    }

    /**
     * Every check {@link #open} makes before reading the examples (for {@code validate}):
     * the settings, the file (a regular file within the size cap) and the tokenizer.
     *
     * @return what the data decides about the model
     */
    public static ModelFactory.DataShape check(Settings s) {
        Options o = options(s);
        if (!Files.isRegularFile(o.path())) {
            throw s.invalid("path", o.path() + (Files.exists(o.path()) ? " is not a regular file (devices and pipes are not read)"
                    : " does not exist"), "a JSONL file, one example per line");
        }
        try {
            if (Files.size(o.path()) > TextCorpus.MAX_FILE_BYTES) {
                throw s.invalid("path", o.path() + " is " + Files.size(o.path()) + " bytes, more than the limit of " + TextCorpus.MAX_FILE_BYTES,
                        "a JSONL file of at most 1 GiB");
            }
        } catch (IOException e) {
            throw s.invalid("path", "cannot read " + o.path() + ": " + e.getMessage(), "a readable JSONL file");
        }
        try (Tokenizer tokenizer = o.tokenizer().equals(DataConfig.BYTE_TOKENIZER) ? new ByteTokenizer()
                : HuggingFaceTokenizer.load(Path.of(o.tokenizer()))) {
            return ModelFactory.DataShape.text(tokenizer.vocabularySize(), tokenizer.eosToken(), o.context());
        } catch (DataException e) {
            throw s.invalid("tokenizer", e.getMessage(), "`byte` or the path of a Hugging Face tokenizer.json");
        }
    }

    /**
     * Reads the section ({@code type: instructions}) and the file.
     *
     * @throws dev.manyfold.api.ConfigException naming the recipe key
     * @throws DataException naming the file, line and field of a bad example
     */
    public static InstructionData open(Settings s, Sampling train) {
        Options o = options(s);
        Path path = o.path();
        String template = o.template();
        int context = o.context();
        double fraction = o.fraction();
        String tokenizerName = o.tokenizer();
        int limit = o.limit();
        List<List<Segment>> examples = read(path, template);
        if (examples.size() > limit) {
            int[] keep = Split.indices(examples.size(), 1.0 - (double) limit / examples.size(), train.seed()).train();
            List<List<Segment>> sampled = new ArrayList<>();
            for (int i : keep) {
                sampled.add(examples.get(i));
            }
            examples = sampled;
        }
        if (examples.size() < 2) {
            throw new DataException(path + ": " + examples.size() + " example; a train/validation split needs at least 2");
        }
        Tokenizer tokenizer = tokenizerName.equals(DataConfig.BYTE_TOKENIZER) ? new ByteTokenizer()
                : HuggingFaceTokenizer.load(Path.of(tokenizerName));
        List<Row> rows = new ArrayList<>();
        int truncated = 0;
        int empty = 0;
        for (List<Segment> e : examples) {
            Row row = encode(e, tokenizer, context);
            if (row == null) {
                empty++;
                continue;
            }
            if (row.tokens.length > context + 1) {
                truncated++;
            }
            rows.add(row);
        }
        if (rows.size() < 2) {
            throw new DataException(path + ": " + empty + " of " + examples.size() + " examples have no response token within context "
                    + context + "; raise data.context");
        }
        Split<int[]> split = Split.indices(rows.size(), fraction, train.seed());
        return new InstructionData(path, context, train.batch(), train.seed(), tokenizer, select(rows, split.train()),
                select(rows, split.validation()), truncated, empty);
    }

    private static List<Row> select(List<Row> rows, int[] indices) {
        List<Row> out = new ArrayList<>();
        for (int i : indices) {
            out.add(rows.get(i));
        }
        return List.copyOf(out);
    }

    /** Reads and renders every line of the file. */
    static List<List<Segment>> read(Path path, String template) {
        if (!Files.isRegularFile(path)) {
            throw new DataException("instruction file " + path + " does not exist (data.path: a JSONL file, one example per line)");
        }
        ObjectMapper json = new ObjectMapper();
        List<List<Segment>> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = json.readTree(line);
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    throw new DataException(path + ":" + n + ": not a JSON object: " + e.getOriginalMessage());
                }
                out.add(render(node, template, path + ":" + n));
            }
        } catch (IOException e) {
            throw new DataException("cannot read " + path + ": " + e.getMessage(), e);
        }
        return out;
    }

    /** The segments of one example under a template; {@code where} names file and line in errors. */
    static List<Segment> render(JsonNode node, String template, String where) {
        if (node == null || !node.isObject()) {
            throw new DataException(where + ": expected a JSON object");
        }
        if (template.equals("chat")) {
            JsonNode messages = node.get("messages");
            if (messages == null || !messages.isArray() || messages.isEmpty()) {
                throw new DataException(where + ": field messages: missing or empty; template chat needs [{role, content}, ...]");
            }
            List<Segment> out = new ArrayList<>();
            boolean anyAssistant = false;
            for (int i = 0; i < messages.size(); i++) {
                String role = text(messages.get(i), "role", where + ": messages[" + i + "]");
                String content = text(messages.get(i), "content", where + ": messages[" + i + "]");
                boolean assistant = role.equals("assistant");
                anyAssistant |= assistant;
                out.add(new Segment(chatHeader(role), false));
                out.add(new Segment(content + "\n", assistant));
            }
            if (!anyAssistant) {
                throw new DataException(where + ": field messages: no assistant message to train on");
            }
            return out;
        }
        String instruction = text(node, "instruction", where);
        String input = node.path("input").isTextual() ? node.get("input").asText() : "";
        String output = text(node, "output", where);
        return List.of(new Segment(prompt(template, instruction, input), false), new Segment(output, true));
    }

    /** The prompt an {@code alpaca} or {@code custom PROMPT} template renders; the response follows it. */
    public static String prompt(String template, String instruction, String input) {
        String prompt = template.equals("alpaca") ? (input.isEmpty() ? ALPACA : ALPACA_INPUT) : template.substring("custom ".length());
        return prompt.replace("{instruction}", instruction).replace("{input}", input);
    }

    /** The line that opens a message of {@code role} under the {@code chat} template; the content and a newline follow. */
    public static String chatHeader(String role) {
        return "<|" + role + "|>\n";
    }

    private static String text(JsonNode node, String field, String where) {
        JsonNode v = node == null ? null : node.get(field);
        if (v == null || !v.isTextual()) {
            throw new DataException(where + ": field " + field + ": missing or not a string");
        }
        return v.asText();
    }

    /** Tokenises an example into one row; null when no response token fits the context. */
    static Row encode(List<Segment> segments, Tokenizer tokenizer, int context) {
        List<Integer> tokens = new ArrayList<>();
        List<Boolean> trained = new ArrayList<>();
        for (Segment s : segments) {
            // Only the first segment starts the sequence (a beginning-of-sequence token, where the tokenizer has one).
            for (int t : tokens.isEmpty() ? tokenizer.encode(s.text()) : tokenizer.encodePart(s.text())) {
                tokens.add(t);
                trained.add(s.trained());
            }
        }
        tokens.add(tokenizer.eosToken());
        trained.add(true);
        int[] all = tokens.stream().mapToInt(Integer::intValue).toArray();
        int[] inputs = new int[context];
        int[] labels = new int[context];
        Arrays.fill(inputs, tokenizer.eosToken());
        Arrays.fill(labels, IGNORE);
        boolean any = false;
        for (int p = 0; p < context && p < all.length; p++) {
            inputs[p] = all[p];
            if (p + 1 < all.length && trained.get(p + 1)) {
                labels[p] = all[p + 1];
                any = true;
            }
        }
        return any ? new Row(inputs, labels, all) : null;
    }

    private HostBatch of(List<Row> rows) {
        int[] inputs = new int[rows.size() * context];
        int[] labels = new int[rows.size() * context];
        for (int r = 0; r < rows.size(); r++) {
            System.arraycopy(rows.get(r).inputs, 0, inputs, r * context, context);
            System.arraycopy(rows.get(r).labels, 0, labels, r * context, context);
        }
        long[] shape = {rows.size(), context};
        return new HostBatch(null, inputs, shape, labels, shape);
    }

    @Override
    public ModelFactory.DataShape shape() {
        return ModelFactory.DataShape.text(tokenizer.vocabularySize(), tokenizer.eosToken(), context);
    }

    @Override
    public HostBatch train(long step, int micro) {
        long k = (step - 1) * 1_000_003L + micro;
        SplitMix random = SplitMix.stream(seed, SplitMix.SAMPLE, k);
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < batch; r++) {
            rows.add(train.get(random.nextInt(train.size())));
        }
        return of(rows);
    }

    @Override
    public List<HostBatch> validation(int maxBatches) {
        List<HostBatch> out = new ArrayList<>();
        for (int i = 0; i < validation.size() && out.size() < maxBatches; i += batch) {
            out.add(of(validation.subList(i, Math.min(validation.size(), i + batch))));
        }
        return out;
    }

    @Override
    public String describe() {
        return String.format("instructions %s (%,d train / %,d validation examples, context %d%s)", path, train.size(), validation.size(),
                context, (truncated == 0 ? "" : ", " + truncated + " truncated") + (dropped == 0 ? "" : ", " + dropped
                        + " dropped: no answer token within the context"));
    }

    @Override
    public boolean isText() {
        return true;
    }

    @Override
    public Optional<Tokenizer> tokenizer() {
        return Optional.of(tokenizer);
    }

    /** The validation examples' tokens (prompt, response, EOS) one after another. */
    @Override
    public Optional<int[]> validationTokens() {
        return Optional.of(validation.stream().flatMapToInt(r -> Arrays.stream(r.tokens)).toArray());
    }

    /** The training examples (for tests): inputs and labels of each row. */
    List<Row> trainRows() {
        return train;
    }

    Path path() {
        return requireNonNull(path);
    }
}
