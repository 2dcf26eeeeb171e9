// Binding a ModelSource's tensors to roles. Names per layout come from the same pairs tensor_layout.cpp uses
// (GGUF "blk.N.attn_q.weight" / HF "model.layers.N.self_attn.q_proj.weight"); shapes were already checked
// against the hyper-parameters when the source was opened.
#include "model/model_weights.h"

#include "backend/cpu/cpu_matmul.h"
#include "formats/quants.h"
#include "model/model_source.h"

#include <string>

namespace moe {

namespace {

class Binder {
public:
    Binder(const ModelSource& src, const HParams& hp)
        : m_src(src), m_hp(hp), m_hf(hp.layout == WeightLayout::HuggingFace), m_file(src.description().path) {}

    std::string name(int64_t il, const std::string& gguf, const std::string& hf) const {
        if (il < 0) return m_hf ? hf : gguf;
        const std::string n = std::to_string(il);
        return m_hf ? "model.layers." + n + "." + hf : "blk." + n + "." + gguf;
    }
    const WeightTensor* find(const std::string& n) const { return m_src.find_tensor(n); }

    Result<const WeightTensor*> require(const std::string& n) const {
        const WeightTensor* t = find(n);
        if (!t) return Status::error(m_file + ": tensor '" + n + "' is missing");
        return t;
    }

    // A 2-D matrix (or one 2-D slice `index` of a 3-D stack) as a MatrixView.
    Result<MatrixView> matrix(const std::string& n, int64_t index = -1) {
        MOE_ASSIGN_OR_RETURN(const WeightTensor* t, require(n));
        if (!cpu::matmul_supports(t->type))
            return Status::error(m_file + ": tensor '" + n + "': type " + ggml_type_name(t->type) +
                                 " cannot be multiplied by this engine (supported: f32, f16, bf16, q4_0, q4_1, q5_0, "
                                 "q5_1, q8_0, q2_K..q6_K, fp8 e4m3 block-scaled)");
        if (t->ne.size() < 2) return Status::error(m_file + ": tensor '" + n + "' is not a matrix");
        MatrixView v;
        v.type = t->type;
        v.cols = t->ne[0];
        v.rows = t->ne[1];
        const auto row_bytes = ggml_bytes(t->type, static_cast<uint64_t>(v.cols));
        if (!row_bytes) return Status::error(m_file + ": tensor '" + n + "': rows are not whole blocks");
        v.row_bytes = *row_bytes;
        v.data = t->data;
        if (t->type == GgmlType::F8_E4M3_B128) {
            if (!t->block_scales) return Status::error(m_file + ": tensor '" + n + "': FP8 weight without weight_scale_inv");
            v.block_scales = t->block_scales;
            v.scale_cols = (v.cols + 127) / 128;
        }
        if (index >= 0) {
            const int64_t n_mat = t->ne.size() > 2 ? t->ne[2] : 1;
            if (index >= n_mat) return Status::error(m_file + ": tensor '" + n + "': no slice " + std::to_string(index));
            v.data = t->data + static_cast<uint64_t>(index) * static_cast<uint64_t>(v.rows) * v.row_bytes;
        }
        m_bytes += v.row_bytes * static_cast<uint64_t>(v.rows);
        return v;
    }

    // A vector converted to float32 (norm weights, biases).
    Result<std::vector<float>> vec(const std::string& n, int64_t expected) const {
        MOE_ASSIGN_OR_RETURN(const WeightTensor* t, require(n));
        int64_t count = 1;
        for (int64_t d : t->ne) count *= d;
        if (count != expected)
            return Status::error(m_file + ": tensor '" + n + "' has " + std::to_string(count) + " elements, expected " +
                                 std::to_string(expected));
        std::vector<float> out(static_cast<size_t>(count));
        if (t->type == GgmlType::F8_E4M3_B128)
            return Status::error(m_file + ": tensor '" + n + "': an FP8 vector is not supported");
        Status s = dequantize_row(t->type, t->data, out.data(), count);
        if (!s.ok()) return Status::error(m_file + ": tensor '" + n + "': " + s.message());
        return out;
    }

    Result<SwigluWeights> swiglu(int64_t il, const std::string& gguf_sfx, const std::string& hf_prefix) {
        SwigluWeights w;
        MOE_ASSIGN_OR_RETURN(w.gate, matrix(name(il, "ffn_gate" + gguf_sfx + ".weight", hf_prefix + "gate_proj.weight")));
        MOE_ASSIGN_OR_RETURN(w.up, matrix(name(il, "ffn_up" + gguf_sfx + ".weight", hf_prefix + "up_proj.weight")));
        MOE_ASSIGN_OR_RETURN(w.down, matrix(name(il, "ffn_down" + gguf_sfx + ".weight", hf_prefix + "down_proj.weight")));
        return w;
    }

    uint64_t bytes() const { return m_bytes; }
    const std::string& file() const { return m_file; }

private:
    const ModelSource& m_src;
    const HParams& m_hp;
    bool m_hf;
    std::string m_file;
    uint64_t m_bytes = 0;
};

Status bind_mla(Binder& b, const HParams& hp, int64_t il, LayerWeights& l) {
    if (hp.q_lora_rank == 0) {
        MOE_ASSIGN_OR_RETURN(l.wq, b.matrix(b.name(il, "attn_q.weight", "self_attn.q_proj.weight")));
    } else {
        MOE_ASSIGN_OR_RETURN(l.wq_a, b.matrix(b.name(il, "attn_q_a.weight", "self_attn.q_a_proj.weight")));
        MOE_ASSIGN_OR_RETURN(l.q_a_norm,
                             b.vec(b.name(il, "attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"), hp.q_lora_rank));
        MOE_ASSIGN_OR_RETURN(l.wq_b, b.matrix(b.name(il, "attn_q_b.weight", "self_attn.q_b_proj.weight")));
    }
    MOE_ASSIGN_OR_RETURN(l.wkv_a, b.matrix(b.name(il, "attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight")));
    MOE_ASSIGN_OR_RETURN(l.kv_a_norm,
                         b.vec(b.name(il, "attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"), hp.kv_lora_rank));
    MOE_ASSIGN_OR_RETURN(l.wo, b.matrix(b.name(il, "attn_output.weight", "self_attn.o_proj.weight")));
    const int64_t nope = hp.qk_nope_head_dim;
    const int64_t vdim = hp.v_head_dim;
    l.uk.resize(static_cast<size_t>(hp.n_head));
    l.uv.resize(static_cast<size_t>(hp.n_head));
    if (hp.layout == WeightLayout::GgufSplitMla) {
        l.uk_transposed = false;
        for (int64_t h = 0; h < hp.n_head; ++h) {
            MOE_ASSIGN_OR_RETURN(l.uk[h], b.matrix(b.name(il, "attn_k_b.weight", ""), h));
            MOE_ASSIGN_OR_RETURN(l.uv[h], b.matrix(b.name(il, "attn_v_b.weight", ""), h));
        }
        return {};
    }
    MOE_ASSIGN_OR_RETURN(MatrixView kv_b, b.matrix(b.name(il, "attn_kv_b.weight", "self_attn.kv_b_proj.weight")));
    for (int64_t h = 0; h < hp.n_head; ++h) {
        l.uk[h] = kv_b.rows_slice(h * (nope + vdim), nope);
        l.uv[h] = kv_b.rows_slice(h * (nope + vdim) + nope, vdim);
    }
    return {};
}

Status bind_mha(Binder& b, const HParams& hp, int64_t il, LayerWeights& l) {
    MOE_ASSIGN_OR_RETURN(l.wq, b.matrix(b.name(il, "attn_q.weight", "self_attn.q_proj.weight")));
    MOE_ASSIGN_OR_RETURN(l.wk, b.matrix(b.name(il, "attn_k.weight", "self_attn.k_proj.weight")));
    MOE_ASSIGN_OR_RETURN(l.wv, b.matrix(b.name(il, "attn_v.weight", "self_attn.v_proj.weight")));
    MOE_ASSIGN_OR_RETURN(l.wo, b.matrix(b.name(il, "attn_output.weight", "self_attn.o_proj.weight")));
    if (hp.attention_bias) {
        const int64_t q = hp.n_head * hp.head_dim;
        const int64_t kv = hp.n_head_kv * hp.head_dim;
        MOE_ASSIGN_OR_RETURN(l.bq, b.vec(b.name(il, "attn_q.bias", "self_attn.q_proj.bias"), q));
        MOE_ASSIGN_OR_RETURN(l.bk, b.vec(b.name(il, "attn_k.bias", "self_attn.k_proj.bias"), kv));
        MOE_ASSIGN_OR_RETURN(l.bv, b.vec(b.name(il, "attn_v.bias", "self_attn.v_proj.bias"), kv));
        const std::string bo = b.name(il, "attn_output.bias", "self_attn.o_proj.bias");
        if (b.find(bo)) {
            MOE_ASSIGN_OR_RETURN(l.bo, b.vec(bo, hp.n_embd));
        }
    }
    return {};
}

Status bind_moe(Binder& b, const HParams& hp, int64_t il, LayerWeights& l) {
    l.is_moe = true;
    MOE_ASSIGN_OR_RETURN(l.router, b.matrix(b.name(il, "ffn_gate_inp.weight", "mlp.gate.weight")));
    if (hp.has_expert_bias) {
        MOE_ASSIGN_OR_RETURN(l.expert_bias,
                             b.vec(b.name(il, "exp_probs_b.bias", "mlp.gate.e_score_correction_bias"), hp.n_expert));
    }
    l.experts.resize(static_cast<size_t>(hp.n_expert));
    for (int64_t e = 0; e < hp.n_expert; ++e) {
        if (hp.layout == WeightLayout::HuggingFace) {
            MOE_ASSIGN_OR_RETURN(l.experts[e], b.swiglu(il, "", "mlp.experts." + std::to_string(e) + "."));
        } else {
            SwigluWeights& w = l.experts[e];
            MOE_ASSIGN_OR_RETURN(w.gate, b.matrix(b.name(il, "ffn_gate_exps.weight", ""), e));
            MOE_ASSIGN_OR_RETURN(w.up, b.matrix(b.name(il, "ffn_up_exps.weight", ""), e));
            MOE_ASSIGN_OR_RETURN(w.down, b.matrix(b.name(il, "ffn_down_exps.weight", ""), e));
        }
    }
    if (hp.n_expert_shared > 0) {
        MOE_ASSIGN_OR_RETURN(l.shared, b.swiglu(il, "_shexp", "mlp.shared_experts."));
        l.experts_and_shared = l.experts;
        l.experts_and_shared.push_back(l.shared);
    }
    return {};
}

uint64_t matrix_bytes(const MatrixView& m) { return m.empty() ? 0 : m.row_bytes * static_cast<uint64_t>(m.rows); }

}  // namespace

Result<ModelWeights> bind_model_weights(const ModelSource& source, const HParams& hp) {
    Binder b(source, hp);
    ModelWeights w;
    MOE_ASSIGN_OR_RETURN(w.tok_embd, b.matrix(b.name(-1, "token_embd.weight", "model.embed_tokens.weight")));
    MOE_ASSIGN_OR_RETURN(w.output_norm, b.vec(b.name(-1, "output_norm.weight", "model.norm.weight"), hp.n_embd));
    const std::string out_name = b.name(-1, "output.weight", "lm_head.weight");
    if (b.find(out_name)) {
        MOE_ASSIGN_OR_RETURN(w.output, b.matrix(out_name));
    } else if (hp.tie_embeddings || hp.arch == Arch::Llama) {
        w.output = w.tok_embd;  // tied embeddings
    } else {
        return Status::error(b.file() + ": tensor '" + out_name + "' is missing");
    }
    if (hp.arch == Arch::Llama && b.find("rope_freqs.weight")) {
        MOE_ASSIGN_OR_RETURN(w.rope_freqs, b.vec("rope_freqs.weight", hp.n_rot / 2));
    }
    w.layers.resize(static_cast<size_t>(hp.n_layer));
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        LayerWeights& l = w.layers[il];
        MOE_ASSIGN_OR_RETURN(l.attn_norm, b.vec(b.name(il, "attn_norm.weight", "input_layernorm.weight"), hp.n_embd));
        MOE_ASSIGN_OR_RETURN(l.ffn_norm, b.vec(b.name(il, "ffn_norm.weight", "post_attention_layernorm.weight"), hp.n_embd));
        MOE_RETURN_IF_ERROR(hp.is_mla() ? bind_mla(b, hp, il, l) : bind_mha(b, hp, il, l));
        if (hp.is_moe_layer(il)) {
            MOE_RETURN_IF_ERROR(bind_moe(b, hp, il, l));
        } else {
            MOE_ASSIGN_OR_RETURN(l.dense, b.swiglu(il, "", "mlp."));
        }
    }
    w.matrix_bytes = b.bytes();
    return w;
}

ActiveWeights active_weights_per_token(const ModelWeights& w, const HParams& hp) {
    ActiveWeights a;
    const auto add = [&](const MatrixView& m, uint64_t times = 1) {
        if (m.empty()) return;
        a.bytes += matrix_bytes(m) * times;
        a.elements += static_cast<uint64_t>(m.rows) * static_cast<uint64_t>(m.cols) * times;
    };
    const auto add_swiglu = [&](const SwigluWeights& s, uint64_t times = 1) {
        add(s.gate, times);
        add(s.up, times);
        add(s.down, times);
    };
    for (const LayerWeights& l : w.layers) {
        for (const MatrixView* m : {&l.wq, &l.wq_a, &l.wq_b, &l.wkv_a, &l.wo, &l.wk, &l.wv}) add(*m);
        for (const MatrixView& m : l.uk) add(m);
        for (const MatrixView& m : l.uv) add(m);
        if (l.is_moe) {
            add(l.router);
            add_swiglu(l.shared);
            if (!l.experts.empty()) add_swiglu(l.experts[0], static_cast<uint64_t>(hp.n_expert_used));
        } else {
            add_swiglu(l.dense);
        }
    }
    add(w.output);
    a.output_elements = static_cast<uint64_t>(w.output.rows) * static_cast<uint64_t>(w.output.cols);
    a.bytes += w.tok_embd.row_bytes;
    return a;
}

}  // namespace moe
