// Expected tensor names and shapes per architecture and layout, and the check of a file against them.
// Every matrix is described once in ggml order {in, out} (y = W x over ne[0]); the HF layout reverses it
// to PyTorch [out, in]. Spec: deepseek.md 1.4 (v1 HF names), 2.5 (V2/V3 HF names), 3.3 (FP8), 6.4 (GGUF).
#include "model/tensor_layout.h"

#include "formats/gguf.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace moe {

namespace {

struct Dim {
    int64_t size;
    const char* name;
};

class LayoutBuilder {
public:
    LayoutBuilder(const HParams& hp, WeightLayout layout)
        : m_hp(hp), m_hf(layout == WeightLayout::HuggingFace), m_layout(layout) {}

    bool hf() const { return m_hf; }
    WeightLayout layout() const { return m_layout; }

    // One tensor. `ne` is in ggml order; `gguf`/`hf` are full names. `fp8` marks HF projection weights
    // that an FP8 checkpoint stores as E4M3 with a `_scale_inv` sibling.
    void add(const std::string& gguf, const std::string& hf, std::vector<Dim> ne, bool required = true,
             bool fp8 = false) {
        if (m_hf) std::reverse(ne.begin(), ne.end());
        ExpectedTensor t;
        t.name = m_hf ? hf : gguf;
        t.required = required;
        for (const Dim& d : ne) {
            t.shape.push_back(d.size);
            t.dims.push_back(d.name);
        }
        if (m_hf && fp8 && m_hp.hf_quant_method == "fp8" && ne.size() == 2) add_scale_inv(t);
        m_out.push_back(std::move(t));
    }
    // Per-layer tensor: "blk.N.<gguf>" / "model.layers.N.<hf>".
    void layer(int64_t il, const std::string& gguf, const std::string& hf, std::vector<Dim> ne, bool required = true,
               bool fp8 = false) {
        const std::string n = std::to_string(il);
        add("blk." + n + "." + gguf, "model.layers." + n + "." + hf, std::move(ne), required, fp8);
    }
    std::vector<ExpectedTensor> take() { return std::move(m_out); }

private:
    // FP8 block scales: [ceil(out/rows), ceil(in/cols)] in PyTorch order (t is already [out, in]).
    void add_scale_inv(const ExpectedTensor& t) {
        const int64_t rows = m_hp.hf_fp8_block_rows;
        const int64_t cols = m_hp.hf_fp8_block_cols;
        ExpectedTensor s;
        s.name = t.name + "_scale_inv";
        s.required = false;
        s.shape = {(t.shape[0] + rows - 1) / rows, (t.shape[1] + cols - 1) / cols};
        s.dims = {"ceil(out/128)", "ceil(in/128)"};
        m_out.push_back(std::move(s));
    }

    const HParams& m_hp;
    bool m_hf;
    WeightLayout m_layout;
    std::vector<ExpectedTensor> m_out;
};

void add_mha(LayoutBuilder& b, const HParams& hp, int64_t il) {
    const Dim d{hp.n_embd, "n_embd"};
    const Dim q{hp.n_head * hp.head_dim, "n_head*head_dim"};
    const Dim kv{hp.n_head_kv * hp.head_dim, "n_head_kv*head_dim"};
    b.layer(il, "attn_q.weight", "self_attn.q_proj.weight", {d, q}, true, true);
    b.layer(il, "attn_k.weight", "self_attn.k_proj.weight", {d, kv}, true, true);
    b.layer(il, "attn_v.weight", "self_attn.v_proj.weight", {d, kv}, true, true);
    b.layer(il, "attn_output.weight", "self_attn.o_proj.weight", {q, d}, true, true);
    if (hp.attention_bias) {
        b.layer(il, "attn_q.bias", "self_attn.q_proj.bias", {q});
        b.layer(il, "attn_k.bias", "self_attn.k_proj.bias", {kv});
        b.layer(il, "attn_v.bias", "self_attn.v_proj.bias", {kv});
        b.layer(il, "attn_output.bias", "self_attn.o_proj.bias", {d}, false);
    }
}

// MLA (spec 2.1): q [H*(nope+rope)] directly or through the q_lora bottleneck; kv_a gives [c | k_pe].
void add_mla(LayoutBuilder& b, const HParams& hp, int64_t il) {
    const Dim d{hp.n_embd, "n_embd"};
    const Dim q{hp.n_head * (hp.qk_nope_head_dim + hp.qk_rope_head_dim), "n_head*(qk_nope+qk_rope)"};
    const Dim kv_lora{hp.kv_lora_rank, "kv_lora_rank"};
    if (hp.q_lora_rank == 0) {
        b.layer(il, "attn_q.weight", "self_attn.q_proj.weight", {d, q}, true, true);
    } else {
        const Dim q_lora{hp.q_lora_rank, "q_lora_rank"};
        b.layer(il, "attn_q_a.weight", "self_attn.q_a_proj.weight", {d, q_lora}, true, true);
        b.layer(il, "attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight", {q_lora});
        b.layer(il, "attn_q_b.weight", "self_attn.q_b_proj.weight", {q_lora, q}, true, true);
    }
    b.layer(il, "attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight",
            {d, {hp.kv_lora_rank + hp.qk_rope_head_dim, "kv_lora_rank+qk_rope"}}, true, true);
    b.layer(il, "attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight", {kv_lora});
    const Dim kv_b{hp.n_head * (hp.qk_nope_head_dim + hp.v_head_dim), "n_head*(qk_nope+v_head)"};
    if (b.layout() == WeightLayout::GgufSplitMla) {
        // k_b {nope, kv_lora, H} = per-head W_UK transposed; v_b {kv_lora, v, H} = per-head W_UV.
        const Dim h{hp.n_head, "n_head"};
        b.layer(il, "attn_k_b.weight", "", {{hp.qk_nope_head_dim, "qk_nope"}, kv_lora, h});
        b.layer(il, "attn_v_b.weight", "", {kv_lora, {hp.v_head_dim, "v_head"}, h});
        b.layer(il, "attn_kv_b.weight", "", {kv_lora, kv_b}, false);  // newer converters may keep it
    } else {
        b.layer(il, "attn_kv_b.weight", "self_attn.kv_b_proj.weight", {kv_lora, kv_b}, true, true);
    }
    b.layer(il, "attn_output.weight", "self_attn.o_proj.weight", {{hp.n_head * hp.v_head_dim, "n_head*v_head"}, d},
            true, true);
}

void add_swiglu(LayoutBuilder& b, int64_t il, const std::string& gguf_sfx, const std::string& hf_prefix, Dim d, Dim ff) {
    b.layer(il, "ffn_gate" + gguf_sfx + ".weight", hf_prefix + "gate_proj.weight", {d, ff}, true, true);
    b.layer(il, "ffn_up" + gguf_sfx + ".weight", hf_prefix + "up_proj.weight", {d, ff}, true, true);
    b.layer(il, "ffn_down" + gguf_sfx + ".weight", hf_prefix + "down_proj.weight", {ff, d}, true, true);
}

void add_moe(LayoutBuilder& b, const HParams& hp, int64_t il) {
    const Dim d{hp.n_embd, "n_embd"};
    const Dim e{hp.n_expert, "n_expert"};
    const Dim ff_e{hp.n_ff_exp, "n_ff_exp"};
    b.layer(il, "ffn_gate_inp.weight", "mlp.gate.weight", {d, e});
    if (hp.has_expert_bias) b.layer(il, "exp_probs_b.bias", "mlp.gate.e_score_correction_bias", {e});
    if (b.hf()) {
        for (int64_t j = 0; j < hp.n_expert; ++j)
            add_swiglu(b, il, "", "mlp.experts." + std::to_string(j) + ".", d, ff_e);
    } else {  // the experts stacked along the outermost dimension, in expert order
        b.layer(il, "ffn_gate_exps.weight", "", {d, ff_e, e});
        b.layer(il, "ffn_up_exps.weight", "", {d, ff_e, e});
        b.layer(il, "ffn_down_exps.weight", "", {ff_e, d, e});
    }
    if (hp.n_expert_shared > 0)
        add_swiglu(b, il, "_shexp", "mlp.shared_experts.", d, {hp.n_expert_shared * hp.n_ff_exp, "n_shared*n_ff_exp"});
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const HParams& hp, WeightLayout layout) {
    LayoutBuilder b(hp, layout);
    const Dim d{hp.n_embd, "n_embd"};
    const Dim v{hp.n_vocab, "n_vocab"};
    b.add("token_embd.weight", "model.embed_tokens.weight", {d, v});
    if (hp.arch == Arch::Llama && !b.hf() && hp.n_rot > 0)
        b.add("rope_freqs.weight", "", {{hp.n_rot / 2, "n_rot/2"}}, false);  // llama 3.1 frequency factors
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        b.layer(il, "attn_norm.weight", "input_layernorm.weight", {d});
        if (hp.is_mla()) {
            add_mla(b, hp, il);
        } else {
            add_mha(b, hp, il);
        }
        b.layer(il, "ffn_norm.weight", "post_attention_layernorm.weight", {d});
        if (hp.is_moe_layer(il)) {
            add_moe(b, hp, il);
        } else {
            add_swiglu(b, il, "", "mlp.", d, {hp.n_ff, "n_ff"});
        }
    }
    b.add("output_norm.weight", "model.norm.weight", {d});
    b.add("output.weight", "lm_head.weight", {d, v}, !hp.tie_embeddings);
    return b.take();
}

std::string format_shape(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::vector<TensorShapeRef> tensor_shapes(const GgufFile& file) {
    std::vector<TensorShapeRef> out;
    out.reserve(file.tensors().size());
    for (const GgufTensorInfo& t : file.tensors()) {
        TensorShapeRef r{t.name, {}};
        for (uint32_t i = 0; i < t.n_dims && i < 4; ++i)
            r.shape.push_back(t.ne[i] > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(t.ne[i]));
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<TensorShapeRef> tensor_shapes(const GgufModel& model) {
    std::vector<TensorShapeRef> out;
    for (const GgufFile& f : model.files()) {
        std::vector<TensorShapeRef> part = tensor_shapes(f);
        out.insert(out.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    }
    return out;
}

namespace {

std::vector<int64_t> trim_trailing_ones(std::vector<int64_t> shape) {
    while (shape.size() > 1 && shape.back() == 1) shape.pop_back();
    return shape;
}

std::string explain(const ExpectedTensor& t) {
    std::string s = "[";
    for (size_t i = 0; i < t.shape.size(); ++i)
        s += (i ? ", " : "") + std::string(i < t.dims.size() ? t.dims[i] : "?") + "=" + std::to_string(t.shape[i]);
    return s + "]";
}

}  // namespace

bool is_hf_mtp_tensor(const std::string& name, int64_t n_layer) {
    static const std::string prefix = "model.layers.";
    if (name.compare(0, prefix.size(), prefix) != 0) return false;
    size_t i = prefix.size();
    int64_t layer = 0;
    size_t n_digits = 0;
    while (i < name.size() && name[i] >= '0' && name[i] <= '9' && n_digits < 9) {
        layer = layer * 10 + (name[i] - '0');
        ++i;
        ++n_digits;
    }
    return n_digits > 0 && i < name.size() && name[i] == '.' && layer >= n_layer;
}

Status validate_tensor_shapes(const HParams& hp, WeightLayout layout, const std::vector<TensorShapeRef>& present,
                              const std::string& file_name, std::vector<std::string>* warnings) {
    const bool gguf = layout != WeightLayout::HuggingFace;
    const std::vector<ExpectedTensor> expected = expected_tensors(hp, layout);
    std::unordered_map<std::string, const TensorShapeRef*> by_name;
    by_name.reserve(present.size());
    for (const TensorShapeRef& t : present) by_name.emplace(t.name, &t);

    std::string first_error;
    size_t n_errors = 0;
    std::unordered_map<std::string, bool> known;
    known.reserve(expected.size());
    for (const ExpectedTensor& e : expected) {
        known.emplace(e.name, true);
        const auto it = by_name.find(e.name);
        std::string problem;
        if (it == by_name.end()) {
            if (e.required) problem = "missing (expected shape " + format_shape(e.shape) + " = " + explain(e) + ")";
        } else {
            const std::vector<int64_t>& got = it->second->shape;
            const bool same = gguf ? trim_trailing_ones(got) == trim_trailing_ones(e.shape) : got == e.shape;
            if (!same)
                problem = "shape " + format_shape(got) + " disagrees with the hyper-parameters (expected " +
                          format_shape(e.shape) + " = " + explain(e) + ")";
        }
        if (problem.empty()) continue;
        if (n_errors++ == 0) first_error = file_name + ": tensor '" + e.name + "': " + problem;
    }
    if (warnings != nullptr) {
        for (const TensorShapeRef& t : present) {
            if (known.count(t.name) != 0) continue;
            if (!gguf && is_hf_mtp_tensor(t.name, hp.n_layer)) continue;
            warnings->push_back(file_name + ": tensor '" + t.name + "' " + format_shape(t.shape) +
                                " is not used by " + hp.source_arch);
        }
    }
    if (n_errors == 0) return {};
    if (n_errors > 1) first_error += " (and " + std::to_string(n_errors - 1) + " more tensor problems)";
    return Status::error(first_error);
}

}  // namespace moe
