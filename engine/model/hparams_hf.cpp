// HParams from a Hugging Face config.json (model_type deepseek, deepseek_v2, deepseek_v3, llama).
// Absent optional fields take the defaults of the HF configuration classes (DeepseekV2Config, LlamaConfig);
// the sizes every real config carries are required. Spec: deepseek.md sections 1-4.
#include "model/hparams.h"

#include "formats/json_strict.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace moe {

namespace {
// config.json is flat (rope_scaling and quantization_config nest one level); 64 is generous.
constexpr size_t k_max_config_json_depth = 64;
}  // namespace

namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxConfigBytes = 16u << 20;  // real config.json files are ~2 KB
constexpr int64_t kMaxValue = int64_t{1} << 40;

// Typed access to the fields of one JSON object; `where` is the message prefix ("config.json: ").
// A field that is present with the wrong type is an error; null counts as absent.
class ConfigReader {
public:
    ConfigReader(const Json& object, std::string where, std::string path)
        : m_obj(object), m_where(std::move(where)), m_path(std::move(path)) {}

    bool present(const char* key) const {
        const auto it = m_obj.find(key);
        return it != m_obj.end() && !it->is_null();
    }
    bool exists(const char* key) const { return m_obj.find(key) != m_obj.end(); }  // null included
    Status error(const char* key, const std::string& what) const {
        return Status::error(m_where + "key '" + m_path + key + "': " + what);
    }

    // Every integer field is a size or a count: values outside [0, 2^40] are refused here, so later
    // arithmetic on them cannot overflow.
    Result<int64_t> integer(const char* key) const {
        Result<int64_t> r = any_integer(key);
        if (r && (*r < 0 || *r > kMaxValue))
            return error(key, std::to_string(*r) + " is out of range [0, " + std::to_string(kMaxValue) + "]");
        return r;
    }
    Result<int64_t> any_integer(const char* key) const {
        if (!present(key)) return error(key, "missing");
        const Json& v = m_obj.at(key);
        if (v.is_number_unsigned()) {
            const uint64_t u = v.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return error(key, "integer " + std::to_string(u) + " is too large");
            return static_cast<int64_t>(u);
        }
        if (v.is_number_integer()) return v.get<int64_t>();
        if (v.is_number_float()) {  // 2048.0 is accepted; 2048.5 is not
            const double d = v.get<double>();
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
            return error(key, "expected an integer, found " + v.dump());
        }
        return error(key, std::string("expected an integer, found ") + v.type_name());
    }
    Status integer(const char* key, int64_t& out) const {
        if (!present(key)) return {};
        auto r = integer(key);
        if (!r) return r.status();
        out = *r;
        return {};
    }
    Status real(const char* key, double& out) const {
        if (!present(key)) return {};
        const Json& v = m_obj.at(key);
        if (!v.is_number()) return error(key, std::string("expected a number, found ") + v.type_name());
        out = v.get<double>();
        return {};
    }
    Status boolean(const char* key, bool& out) const {
        if (!present(key)) return {};
        const Json& v = m_obj.at(key);
        if (!v.is_boolean()) return error(key, std::string("expected true or false, found ") + v.type_name());
        out = v.get<bool>();
        return {};
    }
    Status string(const char* key, std::string& out) const {
        if (!present(key)) return {};
        const Json& v = m_obj.at(key);
        if (!v.is_string()) return error(key, std::string("expected a string, found ") + v.type_name());
        out = v.get<std::string>();
        return {};
    }
    // A nested object (rope_scaling, quantization_config); nullptr when absent or null.
    Result<const Json*> object(const char* key) const {
        if (!present(key)) return static_cast<const Json*>(nullptr);
        const Json& v = m_obj.at(key);
        if (!v.is_object()) return error(key, std::string("expected an object, found ") + v.type_name());
        return &v;
    }
    ConfigReader nested(const Json& object, const char* key) const {
        return ConfigReader(object, m_where, m_path + key + ".");
    }

private:
    const Json& m_obj;
    std::string m_where;
    std::string m_path;
};

Status read_yarn(const ConfigReader& rs, HParams& hp) {
    hp.rope_scaling = RopeScaling::Yarn;
    MOE_RETURN_IF_ERROR(rs.real("factor", hp.rope_factor));
    if (!rs.present("factor")) return rs.error("factor", "missing");
    hp.rope_original_ctx = 4096;  // the default of DeepseekV2YarnRotaryEmbedding
    MOE_RETURN_IF_ERROR(rs.integer("original_max_position_embeddings", hp.rope_original_ctx));
    MOE_RETURN_IF_ERROR(rs.real("beta_fast", hp.yarn_beta_fast));
    MOE_RETURN_IF_ERROR(rs.real("beta_slow", hp.yarn_beta_slow));
    hp.yarn_mscale = 1.0;
    MOE_RETURN_IF_ERROR(rs.real("mscale", hp.yarn_mscale));
    MOE_RETURN_IF_ERROR(rs.real("mscale_all_dim", hp.yarn_mscale_all_dim));
    return {};
}

Status read_rope_scaling(const ConfigReader& cfg, HParams& hp) {
    const Json* rope = nullptr;
    MOE_ASSIGN_OR_RETURN(rope, cfg.object("rope_scaling"));
    hp.rope_scaling = RopeScaling::None;
    hp.rope_factor = 1.0;
    if (rope == nullptr) return {};
    const ConfigReader rs = cfg.nested(*rope, "rope_scaling");
    std::string type;
    MOE_RETURN_IF_ERROR(rs.string("type", type));
    MOE_RETURN_IF_ERROR(rs.string("rope_type", type));  // newer transformers spell it rope_type
    if (type == "yarn") return read_yarn(rs, hp);
    if (type == "linear") {
        hp.rope_scaling = RopeScaling::Linear;
        MOE_RETURN_IF_ERROR(rs.real("factor", hp.rope_factor));
        return {};
    }
    if (type == "default" || type.empty()) return {};
    return rs.error(rs.present("rope_type") ? "rope_type" : "type",
                    "'" + type + "' is not supported (supported: default, linear, yarn)");
}

Status read_quantization(const ConfigReader& cfg, HParams& hp) {
    const Json* q = nullptr;
    MOE_ASSIGN_OR_RETURN(q, cfg.object("quantization_config"));
    if (q == nullptr) return {};
    const ConfigReader qc = cfg.nested(*q, "quantization_config");
    MOE_RETURN_IF_ERROR(qc.string("quant_method", hp.hf_quant_method));
    if (hp.hf_quant_method.empty()) return qc.error("quant_method", "missing");
    if (hp.hf_quant_method != "fp8")
        return qc.error("quant_method", "'" + hp.hf_quant_method + "' is not supported (supported: fp8)");
    hp.hf_fp8_block_rows = 128;
    hp.hf_fp8_block_cols = 128;
    const auto it = q->find("weight_block_size");
    if (it == q->end() || it->is_null()) return {};
    if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number_integer() || !(*it)[1].is_number_integer())
        return qc.error("weight_block_size", "expected [rows, cols], found " + it->dump().substr(0, 64));
    const bool fits = (*it)[0].get<int64_t>() > 0 && (*it)[1].get<int64_t>() > 0;  // uint64 beyond 2^63 wraps < 0
    if (!fits) return qc.error("weight_block_size", "expected positive sizes, found " + it->dump().substr(0, 64));
    hp.hf_fp8_block_rows = (*it)[0].get<int64_t>();
    hp.hf_fp8_block_cols = (*it)[1].get<int64_t>();
    return {};
}

// Fields every model type has.
Status read_common(const ConfigReader& cfg, HParams& hp) {
    MOE_ASSIGN_OR_RETURN(hp.n_vocab, cfg.integer("vocab_size"));
    MOE_ASSIGN_OR_RETURN(hp.n_embd, cfg.integer("hidden_size"));
    MOE_ASSIGN_OR_RETURN(hp.n_layer, cfg.integer("num_hidden_layers"));
    MOE_ASSIGN_OR_RETURN(hp.n_head, cfg.integer("num_attention_heads"));
    MOE_ASSIGN_OR_RETURN(hp.n_ff, cfg.integer("intermediate_size"));
    hp.n_head_kv = hp.n_head;
    MOE_RETURN_IF_ERROR(cfg.integer("num_key_value_heads", hp.n_head_kv));
    hp.n_ctx_train = 2048;  // the HF classes' default
    MOE_RETURN_IF_ERROR(cfg.integer("max_position_embeddings", hp.n_ctx_train));
    hp.rms_eps = 1e-6;
    MOE_RETURN_IF_ERROR(cfg.real("rms_norm_eps", hp.rms_eps));
    MOE_RETURN_IF_ERROR(cfg.real("rope_theta", hp.rope_freq_base));
    MOE_RETURN_IF_ERROR(cfg.boolean("tie_word_embeddings", hp.tie_embeddings));
    MOE_RETURN_IF_ERROR(cfg.boolean("attention_bias", hp.attention_bias));
    MOE_RETURN_IF_ERROR(read_rope_scaling(cfg, hp));
    MOE_RETURN_IF_ERROR(read_quantization(cfg, hp));
    if (hp.n_head <= 0) return cfg.error("num_attention_heads", "must be positive, found " + std::to_string(hp.n_head));
    hp.head_dim = hp.n_embd / hp.n_head;
    return {};
}

// MoE fields shared by deepseek, deepseek_v2 and deepseek_v3 (null n_routed_experts: a dense model).
Status read_moe(const ConfigReader& cfg, HParams& hp) {
    MOE_RETURN_IF_ERROR(cfg.integer("n_routed_experts", hp.n_expert));
    if (hp.n_expert == 0) return {};
    MOE_ASSIGN_OR_RETURN(hp.n_expert_used, cfg.integer("num_experts_per_tok"));
    MOE_ASSIGN_OR_RETURN(hp.n_ff_exp, cfg.integer("moe_intermediate_size"));
    MOE_RETURN_IF_ERROR(cfg.integer("n_shared_experts", hp.n_expert_shared));
    MOE_RETURN_IF_ERROR(cfg.integer("first_k_dense_replace", hp.n_leading_dense));
    MOE_RETURN_IF_ERROR(cfg.integer("moe_layer_freq", hp.moe_layer_freq));
    MOE_RETURN_IF_ERROR(cfg.boolean("norm_topk_prob", hp.expert_weights_norm));
    std::string scoring = hp.gating == Gating::Sigmoid ? "sigmoid" : "softmax";
    MOE_RETURN_IF_ERROR(cfg.string("scoring_func", scoring));
    if (scoring != "softmax" && scoring != "sigmoid")
        return cfg.error("scoring_func", "'" + scoring + "' is not supported (supported: softmax, sigmoid)");
    hp.gating = scoring == "sigmoid" ? Gating::Sigmoid : Gating::Softmax;
    return {};
}

Status read_deepseek_v1(const ConfigReader& cfg, HParams& hp) {
    hp.arch = Arch::Deepseek;
    hp.n_rot = hp.head_dim;
    hp.rope_interleaved = false;  // HF rotate-half; llama.cpp permutes q/k rows for GGUF
    MOE_RETURN_IF_ERROR(read_moe(cfg, hp));
    if (hp.gating != Gating::Softmax) return cfg.error("scoring_func", "deepseek (v1) supports softmax only");
    return {};
}

Status read_deepseek_v2v3(const ConfigReader& cfg, HParams& hp, bool v3) {
    hp.arch = Arch::Deepseek2;
    hp.n_head_kv = hp.n_head;  // num_key_value_heads is meaningless for MLA (the naive form has H)
    hp.head_dim = 0;
    // DeepseekV2Config defaults; every released config states them.
    hp.q_lora_rank = 1536;
    hp.kv_lora_rank = 512;
    hp.qk_nope_head_dim = 128;
    hp.qk_rope_head_dim = 64;
    hp.v_head_dim = 128;
    // "q_lora_rank": null (V2-Lite) means no query compression; an absent key means the class default.
    if (cfg.exists("q_lora_rank")) hp.q_lora_rank = 0;
    MOE_RETURN_IF_ERROR(cfg.integer("q_lora_rank", hp.q_lora_rank));
    MOE_RETURN_IF_ERROR(cfg.integer("kv_lora_rank", hp.kv_lora_rank));
    MOE_RETURN_IF_ERROR(cfg.integer("qk_nope_head_dim", hp.qk_nope_head_dim));
    MOE_RETURN_IF_ERROR(cfg.integer("qk_rope_head_dim", hp.qk_rope_head_dim));
    MOE_RETURN_IF_ERROR(cfg.integer("v_head_dim", hp.v_head_dim));
    hp.n_rot = hp.qk_rope_head_dim;
    hp.rope_interleaved = true;  // the weights expect adjacent pairs; HF de-interleaves before rotate-half
    hp.gating = v3 ? Gating::Sigmoid : Gating::Softmax;
    hp.expert_weights_norm = v3;
    hp.topk_method = v3 ? "noaux_tc" : "greedy";
    MOE_RETURN_IF_ERROR(read_moe(cfg, hp));
    MOE_RETURN_IF_ERROR(cfg.string("topk_method", hp.topk_method));
    if (hp.topk_method == "gready") hp.topk_method = "greedy";  // the old V2 remote code's spelling
    MOE_RETURN_IF_ERROR(cfg.integer("n_group", hp.n_group));
    MOE_RETURN_IF_ERROR(cfg.integer("topk_group", hp.n_group_used));
    double routed_scale = 1.0;
    MOE_RETURN_IF_ERROR(cfg.real("routed_scaling_factor", routed_scale));
    // V2 code scales only when it does not renormalise; V3 code renormalises (optionally) then scales.
    hp.expert_weights_scale = (v3 || !hp.expert_weights_norm) ? routed_scale : 1.0;
    hp.has_expert_bias = hp.is_moe() && hp.topk_method == "noaux_tc";
    MOE_RETURN_IF_ERROR(cfg.integer("num_nextn_predict_layers", hp.num_nextn_predict_layers));
    return {};
}

Status read_llama(const ConfigReader& cfg, HParams& hp) {
    hp.arch = Arch::Llama;
    MOE_RETURN_IF_ERROR(cfg.integer("head_dim", hp.head_dim));
    hp.n_rot = hp.head_dim;
    hp.rope_interleaved = false;
    return {};
}

Result<HParams> parse_config(const Json& root, const std::string& name) {
    const std::string where = name + ": ";
    if (!root.is_object()) return Status::error(where + "expected a JSON object, found " + root.type_name());
    const ConfigReader cfg(root, where, "");
    HParams hp;
    hp.layout = WeightLayout::HuggingFace;
    MOE_RETURN_IF_ERROR(cfg.string("model_type", hp.source_arch));
    if (!cfg.present("model_type")) return cfg.error("model_type", "missing");
    MOE_RETURN_IF_ERROR(read_common(cfg, hp));
    const std::string& type = hp.source_arch;
    if (type == "deepseek") {
        MOE_RETURN_IF_ERROR(read_deepseek_v1(cfg, hp));
    } else if (type == "deepseek_v2" || type == "deepseek_v3") {
        MOE_RETURN_IF_ERROR(read_deepseek_v2v3(cfg, hp, type == "deepseek_v3"));
    } else if (type == "llama") {
        MOE_RETURN_IF_ERROR(read_llama(cfg, hp));
    } else {
        return Status::error(where + "model_type '" + type +
                             "' is not supported (supported: deepseek, deepseek_v2, deepseek_v3, llama)");
    }
    Status valid = validate_hparams(hp);
    if (!valid.ok()) return valid.with_context(name + ": " + type + " hyper-parameters");
    return hp;
}

}  // namespace

Result<HParams> hparams_from_hf_json(const std::string& json_text, const std::string& name) {
    auto root = parse_json_strict(json_text, name, k_max_config_json_depth);
    if (!root) return root.status();
    try {
        return parse_config(*root, name);
    } catch (const std::exception& e) {  // allocation failures and anything nlohmann still throws
        return Status::error(name + ": " + e.what());
    }
}

Result<HParams> hparams_from_hf_config(const std::string& config_json_path) {
    std::ifstream in(config_json_path, std::ios::binary);
    if (!in) return Status::error(config_json_path + ": cannot open (" + std::strerror(errno) + ")");
    std::string text;
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<size_t>(in.gcount()));
        if (text.size() > kMaxConfigBytes)
            return Status::error(config_json_path + ": larger than " + std::to_string(kMaxConfigBytes) +
                                 " bytes; not a config.json");
    }
    return hparams_from_hf_json(text, config_json_path);
}

}  // namespace moe
