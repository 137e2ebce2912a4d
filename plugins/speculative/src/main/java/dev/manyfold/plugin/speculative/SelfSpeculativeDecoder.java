package dev.manyfold.plugin.speculative;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.OptionalInt;
import java.util.function.IntConsumer;

/**
 * Greedy self-speculative decoding (Sorted LLaMA §3): exit {@code n} drafts K tokens, the
 * full model verifies them in one batched pass, and the output is token-identical to full
 * greedy decoding.
 *
 * <p>A round starts from the last emitted token {@code x0} at position {@code p} (all caches
 * hold {@code [0, p)}). Drafting runs positions {@code p, p+1, ...} through layers
 * {@code [0, n)} one at a time, keeping each position's layer-n hidden state; the last
 * drafted token is pushed through the draft layers too (its draft logits are not needed).
 * Verification then runs only layers {@code [n, L)} over those hidden states at once, which
 * completes every layer's cache for the drafted positions: the draft's layer 1..n keys and
 * values are exactly the target's, because the weights are shared. The longest agreeing
 * prefix is accepted, the full model's token at the first disagreement (or after the last
 * draft) is emitted, and every cache is cropped to the accepted length.
 *
 * <p>K is fixed, or with {@code adaptive: true} starts at {@code k} and becomes K + 2 after a
 * round that accepted every draft, otherwise max(1, K − 1), capped at {@code max-k}.
 *
 * <p>Optional {@code draft-confidence: τ} (an extension, off by default, like Hugging Face's
 * {@code assistant_confidence_threshold}): drafting also stops at a position whose draft
 * max-probability is below τ; that position is then verified like a plain greedy step, so a
 * stop costs one draft head and no wasted layers. A round so stopped with every draft
 * accepted leaves an adaptive K unchanged. The output stays identical to greedy.
 *
 * <pre>
 * decode: { type: self-speculative, draft: 2, k: 4, adaptive: true, max-k: 32, draft-confidence: 0 }
 * </pre>
 */
final class SelfSpeculativeDecoder implements Decoder {
    private final int draft;
    private final String draftPath;
    private final int k;
    private final boolean adaptive;
    private final int maxK;
    private final double confidence;

    SelfSpeculativeDecoder(int draft, String draftPath, int k, boolean adaptive, int maxK, double confidence) {
        this.draft = draft;
        this.draftPath = draftPath;
        this.k = k;
        this.adaptive = adaptive;
        this.maxK = maxK;
        this.confidence = confidence;
    }

    /** Verification by the full model keeps the output equal to greedy decoding. */
    @Override
    public java.util.Set<Capability> capabilities() {
        return java.util.Set.of(Capability.EQUALS_GREEDY);
    }

    @Override
    public Generation generate(LanguageModel model, int[] prompt, int maxNewTokens, IntConsumer onToken) {
        Decoding.checkRequest(model, prompt, maxNewTokens);
        int layers = model.layers();
        Decoding.checkTrainedExit(model, draft, draftPath, "draft exit");
        if (draft >= layers) {
            throw new ConfigException(draftPath, "draft exit " + draft + " is the full model (" + layers + " layers): nothing to speculate",
                    "a trained exit below " + layers + ": " + model.exits().stream().filter(e -> e < layers).toList());
        }
        int vocab = model.vocabularySize();
        int eos = model.eosToken().orElse(-1);
        Statistics stats = new Statistics(maxNewTokens, onToken);
        if (maxNewTokens == 0) {
            return stats.generation();
        }
        try (NDManager base = NDManager.newBaseManager(); InferenceSession session = model.open(base)) {
            int next;
            try (NDManager step = base.newSubManager()) {
                float[] logits = session.forward(prompt, 0, layers, step);
                stats.layers(layers);
                next = Decoding.argmax(logits, 0, vocab);
            }
            stats.fullPass();
            stats.emit(next, layers);
            int position = prompt.length;
            int currentK = k;
            int[] drafts = new int[maxK];
            while (next != eos && stats.count() < maxNewTokens) {
                // At most maxNewTokens tokens in all: a round emits its accepted drafts plus one.
                int budget = Math.min(currentK, maxNewTokens - stats.count() - 1);
                try (NDManager round = base.newSubManager()) {
                    // Hidden states stay in the session (one call per drafted token on fused engines).
                    InferenceSession.Draft d = session.draft(draft, round);
                    // Up to budget greedy drafts in one call on engines with a draft graph (the step loop otherwise).
                    int[] got = budget > 0 ? d.greedy(next, position, budget, confidence, eos) : new int[0];
                    System.arraycopy(got, 0, drafts, 0, got.length);
                    int drafted = got.length;
                    boolean stoppedAtEos = drafted > 0 && drafts[drafted - 1] == eos;
                    // Drafting stopped at a position whose draft was unsure: it is verified like a plain greedy step.
                    boolean unsure = drafted < budget && !stoppedAtEos;
                    if (drafted == budget && !stoppedAtEos) {
                        // The last draft (or x0 when the budget is 0) needs only its draft layers, not its draft logits.
                        d.step(drafted == 0 ? next : drafts[drafted - 1], position + d.size(), false);
                    }
                    for (int i = 0; i < d.size(); i++) {
                        stats.layers(draft);
                    }
                    int positions = d.size();
                    float[] logits = d.verify(layers);
                    stats.layers(layers - draft);
                    stats.fullPass();
                    int accepted = 0;
                    while (accepted < drafted && drafts[accepted] == Decoding.argmax(logits, accepted, vocab)) {
                        accepted++;
                    }
                    for (int i = 0; i < accepted; i++) {
                        stats.emit(drafts[i], layers);
                    }
                    if (accepted < positions) {
                        next = Decoding.argmax(logits, accepted, vocab);
                        stats.emit(next, layers);
                    } else {
                        next = drafts[drafted - 1]; // the accepted EOS
                    }
                    // Positions position..position+accepted hold x0 and the accepted drafts.
                    session.crop(position + accepted + 1);
                    position += accepted + 1;
                    stats.round(drafted, accepted);
                    if (adaptive) {
                        if (accepted == drafted && drafted == currentK) {
                            currentK = Math.min(maxK, currentK + 2);
                        } else if (accepted < drafted || !unsure) {
                            currentK = Math.max(1, currentK - 1);
                        } // stopped by the draft's low confidence with every draft accepted: K stays
                    }
                }
            }
        }
        return stats.generation();
    }

    /** {@code self-speculative}. */
    static final class Factory implements DecoderFactory {
        @Override
        public String name() {
            return "self-speculative";
        }

        @Override
        public String description() {
            return "greedy self-speculative decoding: a trained exit drafts (draft: n), the full model verifies layers n+1..L"
                    + " in one batched pass reusing the draft's KV; k: 4 fixed or adaptive: true; output identical to greedy";
        }

        @Override
        public Decoder create(Settings settings, Context context) {
            OptionalInt depth = Decoding.depth(context);
            int draft = readDraft(settings);
            Decoding.checkDepthRange(settings, "draft", draft, depth, depth.orElse(Integer.MAX_VALUE) - 1, "draft exit");
            Decoding.checkTrainedExit(settings, "draft", draft, context, "draft exit");
            int k = settings.getInt("k", 4);
            settings.check(k >= 1, "k", "draft length K = " + k + " must be positive", "an integer >= 1");
            boolean adaptive = settings.getBoolean("adaptive", false);
            int maxK = settings.getInt("max-k", Math.max(32, k));
            settings.check(maxK >= k, "max-k", "max-k " + maxK + " is below the starting K " + k, "an integer >= k (" + k + ")");
            double confidence = settings.getDouble("draft-confidence", 0);
            settings.check(confidence >= 0 && confidence <= 1, "draft-confidence", "draft-confidence " + confidence + " is outside [0, 1]",
                    "0 (off) or a probability: drafting stops at a draft token whose max probability is below it");
            return new SelfSpeculativeDecoder(draft, settings.pathOf("draft"), k, adaptive, adaptive ? maxK : k, confidence);
        }

        /** {@code draft: n} or {@code draft: { depth: n }}. */
        private static int readDraft(Settings settings) {
            settings.check(settings.has("draft"), "draft", "required key is missing", "a trained exit below the full depth, e.g. draft: 2");
            if (settings.asMap().get("draft") instanceof java.util.Map) {
                Settings section = settings.section("draft");
                int depth = section.getInt("depth");
                section.rejectUnknown();
                return depth;
            }
            return settings.getInt("draft");
        }
    }
}
