package dev.manyfold.runtime.hf;

import dev.manyfold.runtime.model.TensorNames;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one table between Hugging Face LLaMA/Mistral/Qwen2 tensor names and Manyfold's
 * LLaMA names, both ways:
 *
 * <pre>
 * model.embed_tokens.weight                      embed.weight
 * model.layers.N.input_layernorm.weight          layers.N.attn_norm.weight
 * model.layers.N.self_attn.{q,k,v,o}_proj.weight layers.N.attn.{q,k,v,o}_proj.weight
 * model.layers.N.self_attn.{q,k,v}_proj.bias     layers.N.attn.{q,k,v}_proj.bias   (Qwen2)
 * model.layers.N.post_attention_layernorm.weight layers.N.mlp_norm.weight
 * model.layers.N.mlp.{gate,up,down}_proj.weight  layers.N.mlp.{gate,up,down}_proj.weight
 * model.norm.weight                              norm.weight
 * lm_head.weight                                 lm_head.weight
 * </pre>
 */
public final class HfNames {
    private static final Pattern HF_LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern MF_LAYER = Pattern.compile("layers\\.(\\d+)\\.(.+)");

    private HfNames() {}

    /** The Manyfold name of a Hugging Face tensor, empty when the tensor has no counterpart. */
    public static Optional<String> toManyfold(String hf) {
        switch (hf) {
            case "model.embed_tokens.weight":
                return Optional.of("embed.weight");
            case "model.norm.weight":
                return Optional.of("norm.weight");
            case "lm_head.weight":
                return Optional.of("lm_head.weight");
            default:
                break;
        }
        Matcher m = HF_LAYER.matcher(hf);
        if (!m.matches()) {
            return Optional.empty();
        }
        String rest = m.group(2);
        String mapped = switch (rest) {
            case "input_layernorm.weight" -> "attn_norm.weight";
            case "post_attention_layernorm.weight" -> "mlp_norm.weight";
            default -> rest.startsWith("self_attn.") ? "attn." + rest.substring("self_attn.".length())
                    : rest.startsWith("mlp.") ? rest : null;
        };
        return mapped == null ? Optional.empty() : Optional.of(TensorNames.layer(Integer.parseInt(m.group(1))) + "." + mapped);
    }

    /** The Hugging Face name of a Manyfold LLaMA tensor. */
    public static String toHf(String manyfold) {
        switch (manyfold) {
            case "embed.weight":
                return "model.embed_tokens.weight";
            case "norm.weight":
                return "model.norm.weight";
            case "lm_head.weight":
                return "lm_head.weight";
            default:
                break;
        }
        Matcher m = MF_LAYER.matcher(manyfold);
        if (!m.matches()) {
            throw new IllegalArgumentException("tensor " + manyfold + " has no Hugging Face name");
        }
        String rest = m.group(2);
        String mapped = switch (rest) {
            case "attn_norm.weight" -> "input_layernorm.weight";
            case "mlp_norm.weight" -> "post_attention_layernorm.weight";
            default -> rest.startsWith("attn.") ? "self_attn." + rest.substring("attn.".length()) : rest;
        };
        return "model.layers." + m.group(1) + "." + mapped;
    }

    /** Tensors some checkpoints carry that hold nothing a model needs (precomputed RoPE frequencies). */
    static boolean ignorable(String hf) {
        return hf.endsWith(".rotary_emb.inv_freq");
    }
}
