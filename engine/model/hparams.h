// Hyper-parameters of every supported architecture (DeepSeekMoE v1, DeepSeek-V2/V2-Lite/V3/R1, Llama),
// filled from GGUF metadata (llama.cpp key names) or from a Hugging Face config.json.
// Spec: shared/spec/deepseek.md sections 0-4 (architectures, real configs) and 6.3 (GGUF keys).
#pragma once

#include "core/status.h"

#include <cstdint>
#include <string>

namespace moe {

class GgufFile;
class GgufModel;

// llama.cpp architecture names. HF "deepseek_v2" and "deepseek_v3" both map to Deepseek2 (MLA).
enum class Arch { Deepseek, Deepseek2, Llama };
enum class Gating { Softmax, Sigmoid };
enum class RopeScaling { None, Linear, Yarn };
// How the weights are named and shaped on disk.
enum class WeightLayout {
    GgufLegacyMla,  // deepseek2 GGUF with the unsplit attn_kv_b {kv_lora, H*(nope+v)} (llama.cpp before 2025)
    GgufSplitMla,   // deepseek2 GGUF with attn_k_b {nope, kv_lora, H} and attn_v_b {kv_lora, v, H}
    Gguf,           // non-MLA GGUF (deepseek v1, llama): attn_q/attn_k/attn_v
    HuggingFace,    // safetensors with HF module names, PyTorch [out, in] shapes
};

const char* arch_name(Arch arch);  // "deepseek", "deepseek2", "llama"
const char* gating_name(Gating gating);
const char* rope_scaling_name(RopeScaling scaling);
const char* weight_layout_name(WeightLayout layout);

struct HParams {
    Arch arch = Arch::Llama;
    std::string source_arch;  // as written in the source: GGUF general.architecture or HF model_type
    WeightLayout layout = WeightLayout::Gguf;

    int64_t n_vocab = 0;
    int64_t n_embd = 0;
    int64_t n_layer = 0;     // main decoder layers only (MTP layers excluded)
    int64_t n_head = 0;
    int64_t n_head_kv = 0;   // MHA/GQA key-value heads; MLA: n_head (the naive form has one K/V per head)
    int64_t head_dim = 0;    // non-MLA head size (attention.key_length, or n_embd / n_head)
    int64_t n_ff = 0;        // dense FFN inner size (leading dense layers, or every layer of a dense model)
    int64_t n_ctx_train = 0;
    double rms_eps = 1e-6;
    bool tie_embeddings = false;   // lm_head shares token_embd (llama only; DeepSeek never ties)
    bool attention_bias = false;   // q/k/v/o biases (HF llama attention_bias; GGUF attn_q.bias present)

    // Mixture of experts. n_expert == 0 means a dense model.
    int64_t n_expert = 0;
    int64_t n_expert_used = 0;
    int64_t n_expert_shared = 0;
    int64_t n_ff_exp = 0;          // inner size of one routed expert; the shared FFN is n_expert_shared*n_ff_exp
    int64_t n_leading_dense = 0;   // first_k_dense_replace / leading_dense_block_count
    int64_t moe_layer_freq = 1;
    Gating gating = Gating::Softmax;
    bool expert_weights_norm = false;   // divide the top-k weights by their sum
    double expert_weights_scale = 1.0;  // effective factor applied after the optional normalisation
    bool has_expert_bias = false;       // V3 e_score_correction_bias / exp_probs_b.bias, selection only
    int64_t n_group = 1;                // expert groups for group-limited routing
    int64_t n_group_used = 1;           // topk_group
    std::string topk_method = "greedy"; // greedy | group_limited_greedy | noaux_tc ("gready" normalised)

    // Multi-head latent attention (Deepseek2 only; zeros elsewhere).
    int64_t q_lora_rank = 0;   // 0: no query compression (V2-Lite, attn_q / q_proj)
    int64_t kv_lora_rank = 0;
    int64_t qk_nope_head_dim = 0;
    int64_t qk_rope_head_dim = 0;
    int64_t v_head_dim = 0;

    // RoPE.
    double rope_freq_base = 10000.0;
    int64_t n_rot = 0;                 // rotated dims per head (MLA: qk_rope_head_dim)
    RopeScaling rope_scaling = RopeScaling::None;
    double rope_factor = 1.0;          // s: positions are divided by this (linear) / YaRN factor
    int64_t rope_original_ctx = 0;     // YaRN original_max_position_embeddings
    double yarn_beta_fast = 32.0;
    double yarn_beta_slow = 1.0;
    double yarn_mscale = 0.0;          // HF rope_scaling.mscale (GGUF: equal to mscale_all_dim)
    double yarn_mscale_all_dim = 0.0;  // GGUF rope.scaling.yarn_log_multiplier = 0.1 * mscale_all_dim
    // true: rotate adjacent pairs (x[2i], x[2i+1]) of the stored weights (all GGUF files, HF V2/V3);
    // false: HF rotate-half, dim i pairs with i + n_rot/2 (HF deepseek v1 and llama).
    bool rope_interleaved = true;

    int64_t num_nextn_predict_layers = 0;  // MTP layers stored after the main ones; ignored
    // HF quantization_config: "" or "fp8" (E4M3 weights with [128,128] block scales in *_scale_inv).
    std::string hf_quant_method;
    int64_t hf_fp8_block_rows = 0;
    int64_t hf_fp8_block_cols = 0;

    bool is_mla() const { return arch == Arch::Deepseek2; }
    bool is_moe() const { return n_expert > 0; }
    // Layer il uses the MoE FFN (else the dense FFN of size n_ff).
    bool is_moe_layer(int64_t il) const;
    int64_t n_embd_head_k() const;  // per-head q/k width: MLA nope+rope, else head_dim
    int64_t n_embd_head_v() const;  // per-head v width: MLA v_head_dim, else head_dim
    int64_t n_embd_k_gqa() const { return n_embd_head_k() * n_head_kv; }
    int64_t n_embd_v_gqa() const { return n_embd_head_v() * n_head_kv; }
    int64_t n_moe_layers() const;
    // YaRN attention magnitude m = 0.1*mscale_all_dim*ln(factor) + 1 (1 without YaRN or when mscale_all_dim
    // is 0); kq_scale() = m^2 / sqrt(n_embd_head_k()). Lite fixture: 0.281009, V3 fixture: 0.331254.
    double yarn_attn_mscale() const;
    double kq_scale() const;
};

// Sanity checks shared by both loaders: positive sizes, n_expert_used <= n_expert, MLA head dims
// consistent, groups dividing the experts, sizes small enough that counts cannot overflow.
// Messages name the field ("n_expert_used = 9 exceeds n_expert = 8").
Status validate_hparams(const HParams& hp);

// True when the GGUF holds no tensors (a tokenizer-only file such as ggml-vocab-deepseek-llm.gguf).
bool is_vocab_only(const GgufFile& file);

// Reads `<arch>.*` keys the way llama.cpp b4747 does (its defaults for absent optional keys), detects the
// MLA layout from keys and tensors, and validates. Errors name the file and the key:
//   "x.gguf: architecture 'qwen3moe' is not supported (supported: deepseek, deepseek2, llama)"
//   "x.gguf: key 'deepseek2.expert_count': missing"
// A vocab-only file whose keys are complete still parses (callers check is_vocab_only()); one with no
// tensors and no `<arch>.block_count` fails with a message that starts
// "<file>: no model weights (vocab-only GGUF, 0 tensors); " followed by the underlying key error.
Result<HParams> hparams_from_gguf(const GgufFile& file);
// The same for a split model: metadata from the first shard, tensors looked up in all shards.
Result<HParams> hparams_from_gguf(const GgufModel& model);

// Reads a Hugging Face config.json (model_type deepseek, deepseek_v2, deepseek_v3, llama).
Result<HParams> hparams_from_hf_config(const std::string& config_json_path);
// The same from text; `name` prefixes messages. Never throws, whatever the bytes.
Result<HParams> hparams_from_hf_json(const std::string& json_text, const std::string& name);

}  // namespace moe
