// Builds tiny Hugging Face model folders for tests: config.json, safetensors weights (one file or shards +
// index), tokenizer.json and tokenizer_config.json. Tensor names and PyTorch shapes come from
// expected_tensors(hp, WeightLayout::HuggingFace); data is deterministic pseudo-random bytes, so a test can
// compare what ModelSource maps against what was written. Shared by test_model_source and test_cli.
#pragma once

#include "core/status.h"
#include "formats/safetensors.h"
#include "model/hparams.h"
#include "model/tensor_layout.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/vocab.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace moe_test::hf {

using Json = nlohmann::json;

// ---- configs (tiny shapes; every field a real config of that family carries) ----------------------------

// DeepSeek-V2-Lite style: no q_lora (q_lora_rank null), YaRN, softmax gating, 3 layers (1 dense).
inline Json config_deepseek_v2_lite() {
    return Json::parse(R"({
      "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
      "vocab_size": 272, "hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32,
      "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
      "n_shared_experts": 2, "n_routed_experts": 8, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
      "moe_layer_freq": 1, "routed_scaling_factor": 1.0, "topk_method": "greedy", "n_group": 1, "topk_group": 1,
      "norm_topk_prob": false, "scoring_func": "softmax",
      "q_lora_rank": null, "kv_lora_rank": 32, "qk_nope_head_dim": 16, "qk_rope_head_dim": 16, "v_head_dim": 16,
      "max_position_embeddings": 163840, "rms_norm_eps": 1e-06, "rope_theta": 10000,
      "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                       "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707},
      "tie_word_embeddings": false, "attention_bias": false, "torch_dtype": "bfloat16"
    })");
}

// DeepSeek-V3 style: q_lora, sigmoid gating with e_score_correction_bias, grouped routing, FP8 E4M3 weights
// with [128, 128] block scales, one MTP layer. intermediate_size 160 > 128 gives 2-block scale grids.
inline Json config_deepseek_v3() {
    return Json::parse(R"({
      "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
      "vocab_size": 272, "hidden_size": 64, "intermediate_size": 160, "moe_intermediate_size": 32,
      "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
      "n_shared_experts": 1, "n_routed_experts": 8, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
      "moe_layer_freq": 1, "routed_scaling_factor": 2.5, "topk_method": "noaux_tc", "n_group": 2, "topk_group": 1,
      "norm_topk_prob": true, "scoring_func": "sigmoid", "num_nextn_predict_layers": 1,
      "q_lora_rank": 48, "kv_lora_rank": 32, "qk_nope_head_dim": 16, "qk_rope_head_dim": 16, "v_head_dim": 16,
      "max_position_embeddings": 163840, "rms_norm_eps": 1e-06, "rope_theta": 10000,
      "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                       "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
      "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                              "weight_block_size": [128, 128]},
      "tie_word_embeddings": false, "attention_bias": false, "torch_dtype": "bfloat16"
    })");
}

// DeepSeekMoE 16B style (model_type "deepseek"): MHA, softmax gating, 2 shared experts.
inline Json config_deepseek_v1() {
    return Json::parse(R"({
      "architectures": ["DeepseekForCausalLM"], "model_type": "deepseek",
      "vocab_size": 272, "hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32,
      "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
      "n_shared_experts": 2, "n_routed_experts": 8, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
      "moe_layer_freq": 1, "norm_topk_prob": false, "scoring_func": "softmax",
      "max_position_embeddings": 4096, "rms_norm_eps": 1e-06, "rope_theta": 10000, "rope_scaling": null,
      "tie_word_embeddings": false, "attention_bias": false, "torch_dtype": "bfloat16"
    })");
}

// Llama with grouped-query attention (4 query heads, 2 KV heads).
inline Json config_llama_gqa() {
    return Json::parse(R"({
      "architectures": ["LlamaForCausalLM"], "model_type": "llama",
      "vocab_size": 272, "hidden_size": 64, "intermediate_size": 128,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
      "max_position_embeddings": 2048, "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "rope_scaling": null,
      "tie_word_embeddings": false, "attention_bias": false, "torch_dtype": "bfloat16"
    })");
}

// ---- tensors ----------------------------------------------------------------------------------------------

struct Tensor {
    std::string name;
    moe::SafetensorsDtype dtype = moe::SafetensorsDtype::BF16;
    std::vector<uint64_t> shape;  // PyTorch order
    std::vector<uint8_t> data;
    bool mtp = false;             // belongs to an MTP layer (model.layers.{>= n_layer})
};

inline uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Bytes of `n` elements of `dtype`, seeded by the tensor name (FNV-1a) so every build is identical.
inline std::vector<uint8_t> pseudo_random(const std::string& name, moe::SafetensorsDtype dtype, uint64_t n) {
    uint64_t state = 0xcbf29ce484222325ull;
    for (char c : name) state = (state ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
    std::vector<uint8_t> out(moe::safetensors_bytes(dtype, n).value_or(0));
    if (dtype == moe::SafetensorsDtype::F32) {  // finite values in [0.5, 1.5): norms and block scales
        for (uint64_t i = 0; i < n; ++i) {
            const float v = 0.5f + static_cast<float>(splitmix64(state) >> 40) / static_cast<float>(1 << 24);
            std::memcpy(out.data() + 4 * i, &v, 4);
        }
        return out;
    }
    for (size_t i = 0; i < out.size(); i += 8) {
        const uint64_t r = splitmix64(state);
        std::memcpy(out.data() + i, &r, std::min<size_t>(8, out.size() - i));
    }
    return out;
}

inline Tensor make_tensor(const std::string& name, moe::SafetensorsDtype dtype, std::vector<uint64_t> shape) {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    Tensor t;
    t.name = name;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.data = pseudo_random(name, dtype, n);
    return t;
}

// 2-D weights BF16 (F8_E4M3 when the list has their `_scale_inv`, which is F32), 1-D tensors F32.
inline bool is_scale_name(const std::string& name) {
    return name.size() > 10 && name.compare(name.size() - 10, 10, "_scale_inv") == 0;
}

inline void add_expected(const std::vector<moe::ExpectedTensor>& expected, bool mtp, std::vector<Tensor>& out) {
    std::set<std::string> scales;
    for (const moe::ExpectedTensor& e : expected)
        if (is_scale_name(e.name)) scales.insert(e.name);
    for (const moe::ExpectedTensor& e : expected) {
        const bool is_scale = is_scale_name(e.name);
        if (!e.required && !is_scale) continue;
        const bool fp8 = scales.count(e.name + "_scale_inv") != 0;
        const auto dtype = is_scale || e.shape.size() == 1 ? moe::SafetensorsDtype::F32
                           : fp8                           ? moe::SafetensorsDtype::F8_E4M3
                                                           : moe::SafetensorsDtype::BF16;
        Tensor t = make_tensor(e.name, dtype, std::vector<uint64_t>(e.shape.begin(), e.shape.end()));
        t.mtp = mtp;
        out.push_back(std::move(t));
    }
}

// Every required tensor of the config's model (+ FP8 block scales), then the MTP layers a V3 config names:
// a full decoder layer model.layers.{n_layer + k} plus the MTP-only enorm / hnorm / eh_proj / shared_head.
inline moe::Result<std::vector<Tensor>> plan_tensors(const Json& config) {
    auto hp = moe::hparams_from_hf_json(config.dump(), "config.json");
    if (!hp) return hp.status();
    std::vector<Tensor> out;
    add_expected(moe::expected_tensors(*hp, moe::WeightLayout::HuggingFace), false, out);
    for (int64_t k = 0; k < hp->num_nextn_predict_layers; ++k) {
        moe::HParams more = *hp;
        more.n_layer = hp->n_layer + k + 1;
        const std::string prefix = "model.layers." + std::to_string(hp->n_layer + k) + ".";
        std::vector<moe::ExpectedTensor> layer;
        for (moe::ExpectedTensor& e : moe::expected_tensors(more, moe::WeightLayout::HuggingFace))
            if (e.name.rfind(prefix, 0) == 0) layer.push_back(std::move(e));
        add_expected(layer, true, out);
        const uint64_t d = static_cast<uint64_t>(hp->n_embd);
        for (Tensor t : {make_tensor(prefix + "enorm.weight", moe::SafetensorsDtype::BF16, {d}),
                         make_tensor(prefix + "hnorm.weight", moe::SafetensorsDtype::BF16, {d}),
                         make_tensor(prefix + "eh_proj.weight", moe::SafetensorsDtype::BF16, {d, 2 * d}),
                         make_tensor(prefix + "shared_head.norm.weight", moe::SafetensorsDtype::BF16, {d})}) {
            t.mtp = true;
            out.push_back(std::move(t));
        }
    }
    return out;
}

inline Tensor* find(std::vector<Tensor>& tensors, const std::string& name) {
    for (Tensor& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

// ---- files ------------------------------------------------------------------------------------------------

inline moe::Status write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.close();
    if (!f) return moe::Status::error(path + ": cannot write");
    return {};
}

// The tokenizer every built folder carries: 256 byte tokens (id = byte value), 4 merges, BOS/EOS added
// tokens (ids 260, 261) and the DeepSeek-V3 pre-tokenizer (three Split regexes, then ByteLevel).
constexpr int k_tokenizer_vocab = 262;
constexpr int k_tokenizer_merges = 4;
constexpr int k_bos_id = 260;
constexpr int k_eos_id = 261;
inline const char* k_bos = "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";  // <｜begin▁of▁sentence｜>
inline const char* k_eos = "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
inline const char* k_chat_template =
    "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}";

inline std::string tokenizer_json() {
    Json vocab = Json::object();
    for (int b = 0; b < 256; ++b) vocab[moe::byte_to_symbol_utf8(static_cast<uint8_t>(b))] = b;
    const std::string sp = moe::byte_to_symbol_utf8(' ');  // "Ġ"
    const std::vector<std::pair<std::string, std::string>> merges = {
        {sp, "t"}, {"h", "e"}, {sp + "t", "he"}, {"i", "n"}};
    Json merge_list = Json::array();
    int id = 256;
    for (const auto& [a, b] : merges) {
        vocab[a + b] = id++;
        merge_list.push_back(a + " " + b);
    }
    Json steps = Json::array();
    for (const std::string& re : moe::pretokenizer_regexes("deepseek-v3").value())
        steps.push_back(
            {{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}});
    steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}});
    Json root;
    root["version"] = "1.0";
    root["added_tokens"] = Json::array({{{"id", k_bos_id}, {"content", k_bos}, {"special", true}},
                                        {{"id", k_eos_id}, {"content", k_eos}, {"special", true}}});
    root["normalizer"] = nullptr;
    root["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", steps}};
    root["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}};
    return root.dump();
}

inline std::string tokenizer_config_json() {
    Json c;
    c["add_bos_token"] = true;
    c["add_eos_token"] = false;
    c["bos_token"] = {{"content", k_bos}, {"special", true}};
    c["eos_token"] = k_eos;
    c["chat_template"] = k_chat_template;
    return c.dump();
}

struct FolderOptions {
    uint64_t max_shard_bytes = 0;  // 0: one model.safetensors; else shards + model.safetensors.index.json
    bool tokenizer = true;         // tokenizer.json
    bool tokenizer_config = true;  // tokenizer_config.json (with the chat template)
};

// Writes `folder` (created; files of the same names replaced).
inline moe::Status write_folder(const std::string& folder, const Json& config, const std::vector<Tensor>& tensors,
                                const FolderOptions& options = {}) {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) return moe::Status::error(folder + ": cannot create (" + ec.message() + ")");
    moe::SafetensorsWriter writer;
    writer.set_metadata("format", "pt");
    for (const Tensor& t : tensors)
        MOE_RETURN_IF_ERROR(writer.add_tensor(t.name, t.dtype, t.shape, t.data.data(), t.data.size()));
    if (options.max_shard_bytes > 0)
        MOE_RETURN_IF_ERROR(writer.write_sharded(folder, "model", options.max_shard_bytes));
    else
        MOE_RETURN_IF_ERROR(writer.write(folder + "/model.safetensors"));
    MOE_RETURN_IF_ERROR(write_text(folder + "/config.json", config.dump(2)));
    if (options.tokenizer) MOE_RETURN_IF_ERROR(write_text(folder + "/tokenizer.json", tokenizer_json()));
    if (options.tokenizer_config)
        MOE_RETURN_IF_ERROR(write_text(folder + "/tokenizer_config.json", tokenizer_config_json()));
    return {};
}

// plan_tensors + write_folder.
inline moe::Result<std::vector<Tensor>> build_folder(const std::string& folder, const Json& config,
                                                     const FolderOptions& options = {}) {
    auto tensors = plan_tensors(config);
    if (!tensors) return tensors.status();
    MOE_RETURN_IF_ERROR(write_folder(folder, config, *tensors, options));
    return tensors;
}

}  // namespace moe_test::hf
