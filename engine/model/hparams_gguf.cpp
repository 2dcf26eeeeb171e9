// HParams from GGUF metadata: the `<arch>.` keys written by llama.cpp's converter, read with the defaults
// llama.cpp b4747 applies when an optional key is absent (spec deepseek.md 1.5, 2.4, 6.3).
#include "formats/gguf.h"
#include "model/hparams.h"

#include <span>
#include <string>
#include <vector>

namespace moe {

namespace {

constexpr int64_t kMaxKeyValue = int64_t{1} << 40;

// Typed access to "<arch>.<suffix>" keys. Optional getters keep the default when the key is absent and fail
// when it is present with the wrong type, so a corrupt value is never silently replaced by a default.
class KeyReader {
public:
    KeyReader(const GgufFile& file, std::string prefix) : m_file(file), m_prefix(std::move(prefix)) {}

    std::string key(const char* suffix) const { return m_prefix + "." + suffix; }
    bool has(const char* suffix) const { return m_file.has(key(suffix)); }

    // Integers; a per-layer array is accepted when all its items are equal (llama.cpp get_key_or_arr).
    // Every integer key is a size or a count: values outside [0, 2^40] are refused here, so the
    // arithmetic that follows (key_length_mla - rope, ...) cannot overflow.
    Result<int64_t> integer(const char* suffix) const {
        const std::string k = key(suffix);
        const GgufValue* v = m_file.find(k);
        Result<int64_t> r = (v != nullptr && v->type == GgufValueType::Array) ? uniform_array(k, *v) : m_file.get_int(k);
        if (r && (*r < 0 || *r > kMaxKeyValue))
            return Status::error(m_file.path() + ": key '" + k + "': " + std::to_string(*r) + " is out of range [0, " +
                                 std::to_string(kMaxKeyValue) + "]");
        return r;
    }
    Status integer(const char* suffix, int64_t& out) const {
        if (!has(suffix)) return {};
        auto r = integer(suffix);
        if (!r) return r.status();
        out = *r;
        return {};
    }
    Result<double> real(const char* suffix) const { return m_file.get_float(key(suffix)); }
    Status real(const char* suffix, double& out) const {
        if (!has(suffix)) return {};
        auto r = real(suffix);
        if (!r) return r.status();
        out = *r;
        return {};
    }
    Status boolean(const char* suffix, bool& out) const {
        if (!has(suffix)) return {};
        auto r = m_file.get_bool(key(suffix));
        if (!r) return r.status();
        out = *r;
        return {};
    }
    Status string(const char* suffix, std::string& out) const {
        if (!has(suffix)) return {};
        auto r = m_file.get_string(key(suffix));
        if (!r) return r.status();
        out = *r;
        return {};
    }
    Status error(const char* suffix, const std::string& what) const {
        return Status::error(m_file.path() + ": key '" + key(suffix) + "': " + what);
    }

private:
    Result<int64_t> uniform_array(const std::string& k, const GgufValue& v) const {
        const std::string where = m_file.path() + ": key '" + k + "': ";
        if (v.items.empty()) return Status::error(where + "empty per-layer array");
        if (!v.items[0].is_integer() || v.items[0].type == GgufValueType::Bool)
            return Status::error(where + "expected integers, found an array of " + gguf_value_type_name(v.elem_type));
        for (const GgufValue& item : v.items)
            if (item.u != v.items[0].u || item.i != v.items[0].i)
                return Status::error(where + "per-layer values that differ are not supported");
        const GgufValue& first = v.items[0];
        const bool is_signed = first.type == GgufValueType::Int8 || first.type == GgufValueType::Int16 ||
                               first.type == GgufValueType::Int32 || first.type == GgufValueType::Int64;
        if (!is_signed && first.u > static_cast<uint64_t>(INT64_MAX)) return Status::error(where + "integer too large");
        return is_signed ? first.i : static_cast<int64_t>(first.u);
    }

    const GgufFile& m_file;
    std::string m_prefix;
};

// Tensor lookup over one file or over all shards of a split model (tensors of later layers, or
// output.weight, may live in a later shard than the metadata).
class TensorIndex {
public:
    explicit TensorIndex(const GgufFile& file) : m_files(&file, 1) {}
    explicit TensorIndex(const std::vector<GgufFile>& files) : m_files(files.data(), files.size()) {}
    const GgufTensorInfo* find(std::string_view name) const {
        for (const GgufFile& f : m_files)
            if (const GgufTensorInfo* t = f.find_tensor(name)) return t;
        return nullptr;
    }
    bool empty() const {
        for (const GgufFile& f : m_files)
            if (!f.tensors().empty()) return false;
        return true;
    }

private:
    std::span<const GgufFile> m_files;
};

Status read_vocab_size(const GgufFile& file, const TensorIndex& tensors, const KeyReader& keys, HParams& hp) {
    if (keys.has("vocab_size")) {
        MOE_ASSIGN_OR_RETURN(hp.n_vocab, keys.integer("vocab_size"));
        return {};
    }
    // llama.cpp falls back to the tokenizer's size; a weights-only file still has token_embd {d, V}.
    if (const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
        tokens != nullptr && tokens->type == GgufValueType::Array) {
        hp.n_vocab = static_cast<int64_t>(tokens->items.size());
        return {};
    }
    if (const GgufTensorInfo* embd = tensors.find("token_embd.weight"); embd != nullptr && embd->n_dims == 2) {
        hp.n_vocab = static_cast<int64_t>(embd->ne[1] > INT64_MAX ? 0 : embd->ne[1]);
        return {};
    }
    return keys.error("vocab_size", "missing, and there is no tokenizer.ggml.tokens or token_embd.weight to infer it");
}

Status read_rope(const KeyReader& keys, HParams& hp) {
    MOE_RETURN_IF_ERROR(keys.real("rope.freq_base", hp.rope_freq_base));
    std::string type;
    MOE_RETURN_IF_ERROR(keys.string("rope.scaling.type", type));
    double factor = 0.0;
    MOE_RETURN_IF_ERROR(keys.real("rope.scale_linear", factor));  // the old key name
    MOE_RETURN_IF_ERROR(keys.real("rope.scaling.factor", factor));
    if (type.empty()) type = (factor != 0.0 && factor != 1.0) ? "linear" : "none";  // llama.cpp default: linear
    if (type == "none") {
        hp.rope_scaling = RopeScaling::None;
    } else if (type == "linear") {
        hp.rope_scaling = (factor == 0.0 || factor == 1.0) ? RopeScaling::None : RopeScaling::Linear;
    } else if (type == "yarn") {
        hp.rope_scaling = RopeScaling::Yarn;
    } else {
        return keys.error("rope.scaling.type", "'" + type + "' is not supported (supported: none, linear, yarn)");
    }
    hp.rope_factor = factor == 0.0 ? 1.0 : factor;
    hp.rope_original_ctx = hp.n_ctx_train;
    MOE_RETURN_IF_ERROR(keys.integer("rope.scaling.original_context_length", hp.rope_original_ctx));
    // b4747 takes beta_fast/slow from the context parameters (32/1); newer files may carry them.
    MOE_RETURN_IF_ERROR(keys.real("rope.scaling.yarn_beta_fast", hp.yarn_beta_fast));
    MOE_RETURN_IF_ERROR(keys.real("rope.scaling.yarn_beta_slow", hp.yarn_beta_slow));
    double log_mul = 0.0;
    MOE_RETURN_IF_ERROR(keys.real("rope.scaling.yarn_log_multiplier", log_mul));
    hp.yarn_mscale_all_dim = log_mul / 0.1;  // the converter stores 0.1 * mscale_all_dim
    hp.yarn_mscale = hp.yarn_mscale_all_dim;  // not stored: the cos/sin ratio mscale/mscale_all_dim is 1
    hp.rope_interleaved = true;               // GGUF always rotates adjacent pairs (NORM rope)
    return {};
}

// Keys every architecture has. Head sizes default to n_embd / n_head as in llama.cpp.
Status read_common(const GgufFile& file, const TensorIndex& tensors, const KeyReader& keys, HParams& hp) {
    MOE_ASSIGN_OR_RETURN(hp.n_layer, keys.integer("block_count"));
    MOE_ASSIGN_OR_RETURN(hp.n_ctx_train, keys.integer("context_length"));
    MOE_ASSIGN_OR_RETURN(hp.n_embd, keys.integer("embedding_length"));
    MOE_ASSIGN_OR_RETURN(hp.n_ff, keys.integer("feed_forward_length"));
    MOE_ASSIGN_OR_RETURN(hp.n_head, keys.integer("attention.head_count"));
    hp.n_head_kv = hp.n_head;
    MOE_RETURN_IF_ERROR(keys.integer("attention.head_count_kv", hp.n_head_kv));
    MOE_ASSIGN_OR_RETURN(hp.rms_eps, keys.real("attention.layer_norm_rms_epsilon"));
    MOE_RETURN_IF_ERROR(read_vocab_size(file, tensors, keys, hp));
    MOE_RETURN_IF_ERROR(keys.integer("expert_count", hp.n_expert));
    MOE_RETURN_IF_ERROR(keys.integer("expert_used_count", hp.n_expert_used));
    MOE_RETURN_IF_ERROR(read_rope(keys, hp));
    if (hp.n_head <= 0) return keys.error("attention.head_count", "must be positive");
    hp.head_dim = hp.n_embd / hp.n_head;
    MOE_RETURN_IF_ERROR(keys.integer("attention.key_length", hp.head_dim));
    hp.n_rot = hp.head_dim;
    MOE_RETURN_IF_ERROR(keys.integer("rope.dimension_count", hp.n_rot));
    return {};
}

Status read_llama(const TensorIndex& tensors, const KeyReader& keys, HParams& hp) {
    int64_t value_length = hp.head_dim;
    MOE_RETURN_IF_ERROR(keys.integer("attention.value_length", value_length));
    if (value_length != hp.head_dim)
        return keys.error("attention.value_length", std::to_string(value_length) + " differs from key_length " +
                                                        std::to_string(hp.head_dim) + " (not supported for llama)");
    if (hp.n_rot != hp.head_dim)  // llama.cpp refuses this too ("invalid n_rot")
        return keys.error("rope.dimension_count", std::to_string(hp.n_rot) + ", expected the head size " +
                                                      std::to_string(hp.head_dim));
    // Mixtral-style llama MoE: experts as wide as feed_forward_length, top-k weights renormalised.
    hp.n_ff_exp = hp.n_expert > 0 ? hp.n_ff : 0;
    hp.expert_weights_norm = hp.n_expert > 0;
    hp.tie_embeddings = !tensors.empty() && tensors.find("output.weight") == nullptr;
    hp.attention_bias = tensors.find("blk.0.attn_q.bias") != nullptr;
    hp.layout = WeightLayout::Gguf;
    return {};
}

// DeepSeekMoE v1: llama MHA + MoE. b4747 routes with softmax, no renormalisation and no scale, whatever
// expert_weights_scale says (the converter writes 1.0).
Status read_deepseek(const KeyReader& keys, HParams& hp) {
    MOE_ASSIGN_OR_RETURN(hp.n_leading_dense, keys.integer("leading_dense_block_count"));
    MOE_ASSIGN_OR_RETURN(hp.n_ff_exp, keys.integer("expert_feed_forward_length"));
    MOE_ASSIGN_OR_RETURN(hp.n_expert_shared, keys.integer("expert_shared_count"));
    double file_scale = 1.0;
    MOE_ASSIGN_OR_RETURN(file_scale, keys.real("expert_weights_scale"));
    (void)file_scale;
    hp.gating = Gating::Softmax;
    hp.expert_weights_norm = false;
    hp.expert_weights_scale = 1.0;
    hp.layout = WeightLayout::Gguf;
    return {};
}

Status read_deepseek2_routing(const KeyReader& keys, HParams& hp) {
    MOE_ASSIGN_OR_RETURN(hp.n_ff_exp, keys.integer("expert_feed_forward_length"));
    MOE_ASSIGN_OR_RETURN(hp.n_expert_shared, keys.integer("expert_shared_count"));
    MOE_ASSIGN_OR_RETURN(hp.expert_weights_scale, keys.real("expert_weights_scale"));
    MOE_RETURN_IF_ERROR(keys.boolean("expert_weights_norm", hp.expert_weights_norm));
    int64_t gating_func = 0;  // 0 (none) is what V2/V2.5 files without the key mean: softmax
    MOE_RETURN_IF_ERROR(keys.integer("expert_gating_func", gating_func));
    if (gating_func != 0 && gating_func != 1 && gating_func != 2)
        return keys.error("expert_gating_func", std::to_string(gating_func) + ", expected 1 (softmax) or 2 (sigmoid)");
    hp.gating = gating_func == 2 ? Gating::Sigmoid : Gating::Softmax;
    MOE_RETURN_IF_ERROR(keys.integer("expert_group_count", hp.n_group));
    MOE_RETURN_IF_ERROR(keys.integer("expert_group_used_count", hp.n_group_used));
    MOE_RETURN_IF_ERROR(keys.integer("nextn_predict_layers", hp.num_nextn_predict_layers));
    return {};
}

// MLA head sizes and the on-disk layout: the split layout carries key_length_mla/value_length_mla and
// stores the absorbed sizes (kv_lora+rope, kv_lora) in key_length/value_length with head_count_kv = 1.
Status read_mla_layout(const TensorIndex& tensors, const KeyReader& keys, HParams& hp, int64_t value_length) {
    const bool split = keys.has("attention.key_length_mla");
    const bool has_kv_b = tensors.find("blk.0.attn_kv_b.weight") != nullptr;
    if (!split && !has_kv_b && tensors.find("blk.0.attn_k_b.weight") != nullptr)
        return keys.error("attention.key_length_mla", "missing, but the file has attn_k_b/attn_v_b tensors");
    const int64_t n_head_kv = hp.n_head_kv;
    hp.n_head_kv = hp.n_head;
    if (split) {
        int64_t k_mla = 0;
        int64_t v_mla = 0;
        MOE_ASSIGN_OR_RETURN(k_mla, keys.integer("attention.key_length_mla"));
        MOE_ASSIGN_OR_RETURN(v_mla, keys.integer("attention.value_length_mla"));
        if (hp.head_dim != hp.kv_lora_rank + hp.n_rot || value_length != hp.kv_lora_rank)
            return keys.error("attention.key_length", "key/value_length " + std::to_string(hp.head_dim) + "/" +
                                                          std::to_string(value_length) + ", expected kv_lora_rank+rope/kv_lora_rank = " +
                                                          std::to_string(hp.kv_lora_rank + hp.n_rot) + "/" +
                                                          std::to_string(hp.kv_lora_rank) + " with key_length_mla");
        if (n_head_kv != 1)
            return keys.error("attention.head_count_kv", std::to_string(n_head_kv) + ", expected 1 (MLA layout)");
        hp.qk_nope_head_dim = k_mla - hp.n_rot;
        hp.v_head_dim = v_mla;
        hp.layout = WeightLayout::GgufSplitMla;
    } else {
        if (n_head_kv != hp.n_head)
            return keys.error("attention.head_count_kv", std::to_string(n_head_kv) + ", expected head_count = " +
                                                             std::to_string(hp.n_head) + " (attn_kv_b layout)");
        hp.qk_nope_head_dim = hp.head_dim - hp.n_rot;
        hp.v_head_dim = value_length;
        hp.layout = WeightLayout::GgufLegacyMla;
    }
    hp.qk_rope_head_dim = hp.n_rot;
    hp.head_dim = 0;  // MLA has no single head size; see n_embd_head_k()/n_embd_head_v()
    return {};
}

Status read_deepseek2(const TensorIndex& tensors, const KeyReader& keys, HParams& hp) {
    MOE_ASSIGN_OR_RETURN(hp.n_leading_dense, keys.integer("leading_dense_block_count"));
    // b4747 decides "Lite" (no q compression) by n_layer == 27; the key is the reliable signal: the
    // converter writes attention.q_lora_rank exactly when the HF config has one.
    MOE_RETURN_IF_ERROR(keys.integer("attention.q_lora_rank", hp.q_lora_rank));
    if (!keys.has("attention.q_lora_rank") && tensors.find("blk.0.attn_q_a.weight") != nullptr)
        return keys.error("attention.q_lora_rank", "missing, but the file has attn_q_a tensors");
    MOE_ASSIGN_OR_RETURN(hp.kv_lora_rank, keys.integer("attention.kv_lora_rank"));
    MOE_RETURN_IF_ERROR(read_deepseek2_routing(keys, hp));
    int64_t value_length = hp.n_embd / hp.n_head;
    MOE_RETURN_IF_ERROR(keys.integer("attention.value_length", value_length));
    MOE_RETURN_IF_ERROR(read_mla_layout(tensors, keys, hp, value_length));
    // exp_probs_b is optional in b4747; without tensors (vocab-only) sigmoid gating implies it.
    hp.has_expert_bias = hp.gating == Gating::Sigmoid;
    if (!tensors.empty()) {
        const std::string name = "blk." + std::to_string(hp.n_leading_dense) + ".exp_probs_b.bias";
        hp.has_expert_bias = tensors.find(name) != nullptr;
    }
    if (hp.n_group > 1) hp.topk_method = hp.has_expert_bias ? "noaux_tc" : "group_limited_greedy";
    return {};
}

Result<HParams> parse_gguf(const GgufFile& file, const TensorIndex& tensors) {
    HParams hp;
    MOE_ASSIGN_OR_RETURN(hp.source_arch, file.get_string("general.architecture"));
    if (hp.source_arch == "deepseek") {
        hp.arch = Arch::Deepseek;
    } else if (hp.source_arch == "deepseek2") {
        hp.arch = Arch::Deepseek2;
    } else if (hp.source_arch == "llama") {
        hp.arch = Arch::Llama;
    } else {
        return Status::error(file.path() + ": architecture '" + hp.source_arch +
                             "' is not supported (supported: deepseek, deepseek2, llama)");
    }
    const KeyReader keys(file, hp.source_arch);
    MOE_RETURN_IF_ERROR(read_common(file, tensors, keys, hp));
    if (hp.arch == Arch::Llama) MOE_RETURN_IF_ERROR(read_llama(tensors, keys, hp));
    if (hp.arch == Arch::Deepseek) MOE_RETURN_IF_ERROR(read_deepseek(keys, hp));
    if (hp.arch == Arch::Deepseek2) MOE_RETURN_IF_ERROR(read_deepseek2(tensors, keys, hp));
    Status valid = validate_hparams(hp);
    if (!valid.ok()) return valid.with_context(file.path() + ": " + hp.source_arch + " hyper-parameters");
    return hp;
}

}  // namespace

namespace {

Result<HParams> parse_with_vocab_hint(const GgufFile& file, const TensorIndex& tensors) {
    Result<HParams> hp = parse_gguf(file, tensors);
    if (hp || !tensors.empty()) return hp;
    // No tensors and no block count: a tokenizer file. Say so first, so `info` can show the tokenizer.
    const GgufValue* arch = file.find("general.architecture");
    const bool has_model_keys = arch != nullptr && arch->type == GgufValueType::String && file.has(arch->str + ".block_count");
    if (has_model_keys) return hp;
    return Status::error(file.path() + ": no model weights (vocab-only GGUF, 0 tensors); " + hp.error());
}

}  // namespace

Result<HParams> hparams_from_gguf(const GgufFile& file) { return parse_with_vocab_hint(file, TensorIndex(file)); }

Result<HParams> hparams_from_gguf(const GgufModel& model) {
    // Through files() (inline) rather than GgufModel's own index: this needs no GgufModel symbol.
    return parse_with_vocab_hint(model.primary(), TensorIndex(model.files()));
}

}  // namespace moe
