#!/usr/bin/env python3
"""Writes a random-weight LLaMA-layout Hugging Face directory (BF16, sharded) for measuring
import memory: make-random-hf.py OUT [dim layers ffn vocab shards]. Needs numpy.
The tokenizer is Manyfold's byte tokenizer.json (copied from TOKENIZER_FROM if set)."""
import json, os, struct, sys
import numpy as np

out = sys.argv[1]
dim, layers, ffn, vocab, shards = [int(x) for x in (sys.argv[2:7] or [1024, 8, 2816, 32000, 2])]
heads, kv, hd = dim // 64, max(1, dim // 256), 64
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)

def bf16(shape, std):
    a = (rng.standard_normal(shape, dtype=np.float32) * std) if std > 0 else np.ones(shape, np.float32)
    return (a.view(np.uint32) >> 16).astype(np.uint16)

names = [("model.embed_tokens.weight", (vocab, dim), 0.02)]
for i in range(layers):
    p = "model.layers.%d." % i
    names += [(p + "input_layernorm.weight", (dim,), 0), (p + "self_attn.q_proj.weight", (heads * hd, dim), 0.02),
              (p + "self_attn.k_proj.weight", (kv * hd, dim), 0.02), (p + "self_attn.v_proj.weight", (kv * hd, dim), 0.02),
              (p + "self_attn.o_proj.weight", (dim, heads * hd), 0.02), (p + "post_attention_layernorm.weight", (dim,), 0),
              (p + "mlp.gate_proj.weight", (ffn, dim), 0.02), (p + "mlp.up_proj.weight", (ffn, dim), 0.02),
              (p + "mlp.down_proj.weight", (dim, ffn), 0.02)]
names += [("model.norm.weight", (dim,), 0), ("lm_head.weight", (vocab, dim), 0.02)]
weight_map = {}
for s in range(shards):
    part = names[s::shards]
    file = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
    header, offset, arrays = {"__metadata__": {"format": "pt"}}, 0, []
    for n, shape, std in part:
        a = bf16(shape, std)
        header[n] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        arrays.append(a)
        weight_map[n] = file
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out, file), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for a in arrays:
            f.write(a.tobytes())
json.dump({"metadata": {}, "weight_map": weight_map}, open(os.path.join(out, "model.safetensors.index.json"), "w"))
json.dump({"architectures": ["LlamaForCausalLM"], "hidden_size": dim, "num_hidden_layers": layers, "num_attention_heads": heads,
           "num_key_value_heads": kv, "head_dim": hd, "intermediate_size": ffn, "vocab_size": vocab, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "max_position_embeddings": 2048, "tie_word_embeddings": False, "eos_token_id": 256,
           "torch_dtype": "bfloat16"}, open(os.path.join(out, "config.json"), "w"))
params = sum(int(np.prod(s)) for _, s, _ in names)
print("wrote %s: %d parameters, BF16 %.0f MB, F32 %.0f MB" % (out, params, params * 2 / 1e6, params * 4 / 1e6))
