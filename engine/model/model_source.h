// A model as the user names it: a GGUF file (any shard of a split model), a Hugging Face folder
// (config.json + safetensors + tokenizer.json), or a tokenizer alone (vocab-only GGUF, tokenizer.json).
// Opening reads headers and metadata only; weights stay in the memory maps. Everything `moewb info` and the
// app's model library show comes from describe().
#pragma once

#include "core/status.h"
#include "formats/ggml_type.h"
#include "model/hparams.h"
#include "model/model_stats.h"
#include "tokenizer/vocab.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace moe {

class GgufModel;
class SafetensorsModel;

enum class ModelFormat { Gguf, GgufSplit, Safetensors, TokenizerOnly };
const char* model_format_name(ModelFormat format);  // "gguf", "gguf-split", "safetensors", "tokenizer"

// One weight as the engine reads it. `ne` is in ggml order (ne[0] innermost) whatever the file format;
// HF names and PyTorch shapes are kept in `name` / reversed into `ne`.
struct WeightTensor {
    std::string name;
    GgmlType type = GgmlType::F32;
    std::vector<int64_t> ne;
    const uint8_t* data = nullptr;  // into a memory map
    uint64_t n_bytes = 0;
    // F8_E4M3_B128 only: the `weight_scale_inv` sibling, little-endian F32 [ceil(rows/128)][ceil(cols/128)]
    // row-major. safetensors does not align data: read it with memcpy.
    const uint8_t* block_scales = nullptr;
};

struct TensorTypeStats {
    std::string type;  // "q8_0", "f32", "f8_e4m3", ...
    uint64_t tensors = 0;
    uint64_t elements = 0;
    uint64_t bytes = 0;
};

struct TokenizerSummary {
    std::string kind;  // "bpe (gpt2 byte-level)"
    std::string pre;
    int64_t n_vocab = 0;
    int64_t n_merges = 0;
    int64_t n_special = 0;  // control + user-defined tokens
    int32_t bos_id = -1;
    int32_t eos_id = -1;
    bool add_bos = false;
    std::string source;  // the file the tokenizer came from
};

struct ModelDescription {
    std::string path;
    ModelFormat format = ModelFormat::Gguf;
    std::string name;           // general.name / folder name
    std::string architecture;   // as the file says it ("deepseek2", "deepseek_v3", ...)
    bool has_weights = false;
    std::optional<HParams> hparams;   // absent for tokenizer-only sources
    ParamCounts params;               // from the hyper-parameters
    uint64_t params_in_tensors = 0;   // elements actually stored (MTP layers and FP8 scales excluded)
    std::vector<TensorTypeStats> tensor_types;  // by bytes, descending; sums to weight_bytes
    uint64_t weight_bytes = 0;  // tensor data the engine loads (FP8 scales included, HF MTP layers not)
    uint64_t file_bytes = 0;
    std::optional<TokenizerSummary> tokenizer;
    bool has_chat_template = false;
    std::string builtin_template;  // the built-in fallback used when the model carries no template
    std::vector<std::string> warnings;
};

class ModelSource {
public:
    // Opens `path` and checks it: format, metadata, tensor table against the hyper-parameters, tokenizer.
    // Errors name the file and what is wrong.
    static Result<ModelSource> open(const std::string& path);

    ModelSource(ModelSource&&) noexcept;
    ModelSource& operator=(ModelSource&&) noexcept;
    ~ModelSource();

    const ModelDescription& description() const { return m_desc; }
    const std::vector<WeightTensor>& tensors() const { return m_tensors; }
    // O(1): an index over tensors() built once when the source is opened.
    const WeightTensor* find_tensor(const std::string& name) const;
    // The vocabulary, when the source carries one.
    const std::optional<VocabData>& vocab() const { return m_vocab; }
    // Moves the vocabulary out (Model::load builds its tokenizer from it without a copy); vocab() is empty after.
    std::optional<VocabData> take_vocab() { return std::exchange(m_vocab, std::nullopt); }

private:
    ModelSource();
    Status open_gguf(const std::string& path);
    Status open_hf_folder(const std::string& folder);
    Status open_tokenizer_json(const std::string& path);
    // The HF tensors as WeightTensors (MTP layers and FP8 scales left out) and their type histogram.
    Status collect_hf_tensors(const HParams& hp);
    void finish_description();

    ModelDescription m_desc;
    std::unique_ptr<GgufModel> m_gguf;
    std::unique_ptr<SafetensorsModel> m_safetensors;
    std::vector<WeightTensor> m_tensors;
    std::unordered_map<std::string, size_t> m_index;  // name -> position in m_tensors
    std::optional<VocabData> m_vocab;
};

// The memory plan of a described model for a context length and KV-cache type.
MemoryPlan plan_model_memory(const ModelDescription& desc, KvType kv, int64_t n_ctx);

}  // namespace moe
