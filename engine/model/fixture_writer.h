// Random-weight models of any supported architecture and size, written as GGUF (as llama.cpp b4747 reads
// it) or as a Hugging Face folder (config.json, safetensors, tokenizer.json), deterministic by seed. Tests
// and benchmarks use them instead of downloaded models (`moewb make-fixture`).
//
// Values. Every weight is defined once, in the "canonical" tensor of the legacy GGUF layout (ggml order,
// rows of ne[0]); element i of canonical tensor T is a pure function of (seed, T's name, i):
//   z = Irwin-Hall sum of four 16-bit uniforms from splitmix64(hash(seed, T) + i * golden), standardised to
//       mean 0 and variance 1 (approximately normal, bounded at +-3.46);
//   ordinary weights 0.02*z, the router ffn_gate_inp 0.5*sqrt(64/n_embd)*z, exp_probs_b.bias 0.1*z, norms 1.
// So the values do not depend on the output type, format, sharding or thread count: a q8_0 GGUF is the f32
// GGUF quantized row by row, and a safetensors folder holds the same numbers. Other layouts are views of
// the canonical tensors:
//  - split MLA GGUF: attn_k_b {nope, kv_lora, H}[n][c][h] = attn_kv_b row h*(nope+v)+n, column c
//    (per-head W_UK transposed); attn_v_b {kv_lora, v, H} row (h, j) = attn_kv_b row h*(nope+v)+nope+j;
//  - HF experts: mlp.experts.J.X_proj = slice J of ffn_X_exps (the experts are stacked outermost);
//  - HF q_proj/k_proj of deepseek (v1) and llama: llama.cpp's converter permutes these rows for GGUF so that
//    ggml's adjacent-pair rope equals HF's rotate-half: GGUF row h*hd + 2i + j = HF row h*hd + j*hd/2 + i
//    (i < hd/2, j < 2, hd the head size; k uses n_head_kv). The HF file holds the inverse permutation of
//    the canonical (GGUF) rows. deepseek2 needs none: HF V2/V3 de-interleave the rope part internally.
#pragma once

#include "core/status.h"
#include "formats/ggml_type.h"
#include "model/hparams.h"
#include "model/tensor_layout.h"
#include "tokenizer/vocab.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace moe {

enum class FixtureFormat { Gguf, Safetensors };
enum class MlaLayout { Legacy, Split };  // GGUF deepseek2: attn_kv_b, or attn_k_b + attn_v_b

// The defaults are the deepseek2 "tiny" preset.
struct FixtureSpec {
    Arch arch = Arch::Deepseek2;
    std::string name = "moewb-fixture";  // general.name

    int64_t n_vocab = 512;
    int64_t n_embd = 64;
    int64_t n_layer = 4;
    int64_t n_head = 4;
    int64_t n_head_kv = 4;   // deepseek/llama only (MLA has one K/V per head)
    int64_t n_ff = 128;      // dense FFN (leading dense layers, or every llama layer)
    int64_t n_ctx = 163840;  // context_length / max_position_embeddings

    // Mixture of experts (deepseek, deepseek2; llama fixtures are dense).
    int64_t n_expert = 16;
    int64_t n_expert_used = 4;
    int64_t n_expert_shared = 1;
    int64_t n_ff_exp = 32;
    int64_t n_leading_dense = 1;
    int64_t n_group = 1;
    int64_t n_group_used = 1;
    Gating gating = Gating::Sigmoid;
    bool expert_bias = true;          // exp_probs_b / e_score_correction_bias
    bool expert_weights_norm = true;  // renormalise the top-k weights
    double expert_weights_scale = 2.5;

    // MLA (deepseek2).
    int64_t q_lora_rank = 64;  // 0: no query compression (attn_q)
    int64_t kv_lora_rank = 32;
    int64_t qk_nope_head_dim = 16;
    int64_t qk_rope_head_dim = 16;
    int64_t v_head_dim = 16;

    double rms_eps = 1e-6;
    double rope_freq_base = 10000.0;
    bool yarn = true;
    double yarn_factor = 40.0;
    int64_t yarn_original_ctx = 4096;
    double yarn_log_multiplier = 0.1;  // GGUF rope.scaling.yarn_log_multiplier = 0.1 * HF mscale_all_dim

    MlaLayout mla_layout = MlaLayout::Legacy;
    GgmlType type = GgmlType::F32;  // F32, F16, BF16, Q8_0, Q4_K (safetensors: F32, F16, BF16)
    FixtureFormat format = FixtureFormat::Gguf;
    uint64_t seed = 1;
    uint64_t split_max_bytes = 0;  // GGUF: 0 one file, else gguf-split shards of at most this size
    uint64_t shard_max_bytes = 0;  // safetensors: 0 = 2 GB; a larger model gets shards + index
    int n_threads = 0;             // 0: one per hardware thread
};

// Presets: "tiny" (every arch), "medium", "v2-lite", "v3" (deepseek2 only). Shapes: fixture_spec.cpp.
Result<FixtureSpec> fixture_preset(Arch arch, const std::string& preset);
std::vector<std::string> fixture_preset_names();

// Checks the combination (sizes positive, MoE and MLA consistent, what the architecture supports, the type
// for the format). Messages name the option ("--experts-used 9 exceeds --experts 8").
Status validate_fixture_spec(const FixtureSpec& spec);

// What other readers will make of the spec (empty when nothing): llama.cpp b4747 decides that a deepseek2
// GGUF has no q_lora by n_layer == 27 alone, and older llama.cpp builds do not know the split MLA layout.
std::vector<std::string> fixture_compat_notes(const FixtureSpec& spec);

// The hyper-parameters the written files describe, for `layout` (GgufLegacyMla/GgufSplitMla/Gguf/
// HuggingFace), as hparams_from_gguf / hparams_from_hf_config read them back.
HParams fixture_hparams(const FixtureSpec& spec, WeightLayout layout);
// The layout the spec's format and MLA option select.
WeightLayout fixture_layout(const FixtureSpec& spec);
// The tensor type a GGUF/HF tensor gets: norms, biases and the router stay F32 in GGUF; a row length that
// is not a whole number of blocks falls back to Q8_0 (rows of 32) or F16. HF tensors all take spec.type.
GgmlType fixture_tensor_type(const FixtureSpec& spec, const ExpectedTensor& tensor);

// One element of a canonical tensor, as above (exposed for tests and for checking a written file).
float fixture_value(uint64_t seed, const std::string& canonical_name, uint64_t index, float scale);

// The tokenizer every fixture carries: 256 byte tokens, merges learned by a small deterministic BPE trainer
// on a built-in English text (as many as the text gives, up to the vocab), BOS/EOS (control), the chat
// tokens <｜User｜>/<｜Assistant｜> (user-defined) for V3-style models, then <｜place▁holder▁no▁N｜> control
// tokens up to n_vocab. Pre-tokenizer: deepseek-v3 for sigmoid-gated deepseek2, deepseek-llm for other
// DeepSeek models, default for llama. The chat template is the matching built-in one.
Result<VocabData> fixture_vocab(const FixtureSpec& spec);
// The same as a HF tokenizer.json / tokenizer_config.json text.
std::string fixture_tokenizer_json(const VocabData& vocab);
std::string fixture_tokenizer_config_json(const VocabData& vocab);
// config.json of the HF folder (bos/eos ids from `vocab`).
std::string fixture_hf_config_json(const FixtureSpec& spec, const VocabData& vocab);

struct FixtureResult {
    std::vector<std::string> files;  // every file written (GGUF shards, or the folder's files)
    uint64_t n_params = 0;
    uint64_t n_bytes = 0;            // sum of the file sizes
    double seconds = 0.0;
};

// bytes of tensor data written so far / in total; called from the writing thread.
using FixtureProgress = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;

// Writes the model: GGUF to `out_path` (a file, or shards "<out>-0000N-of-0000M.gguf" with split_max_bytes),
// or a HF folder `out_path` (created). Weights are generated in parallel and streamed to disk; memory use
// does not grow with the model size.
Result<FixtureResult> write_fixture(const FixtureSpec& spec, const std::string& out_path,
                                    const FixtureProgress& progress = {});

}  // namespace moe
