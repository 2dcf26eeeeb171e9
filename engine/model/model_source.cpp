#include "model/model_source.h"

#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "model/tensor_layout.h"
#include "template/chat_template.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <unordered_set>

namespace moe {

namespace fs = std::filesystem;

const char* model_format_name(ModelFormat format) {
    switch (format) {
        case ModelFormat::Gguf: return "gguf";
        case ModelFormat::GgufSplit: return "gguf-split";
        case ModelFormat::Safetensors: return "safetensors";
        case ModelFormat::TokenizerOnly: return "tokenizer";
    }
    return "?";
}

ModelSource::ModelSource() = default;
ModelSource::ModelSource(ModelSource&&) noexcept = default;
ModelSource& ModelSource::operator=(ModelSource&&) noexcept = default;
ModelSource::~ModelSource() = default;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool has_safetensors(const fs::path& folder) {
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".safetensors") return true;
    return false;
}

}  // namespace

Result<ModelSource> ModelSource::open(const std::string& path) {
    ModelSource src;
    src.m_desc.path = path;
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) return Status::error(path + ": no such file or folder");
    Status status;
    const fs::path p(path);
    // A file inside a HF folder names the folder ("." for a bare file name).
    const std::string parent = p.parent_path().empty() ? std::string(".") : p.parent_path().string();
    const std::string file_name = p.filename().string();
    if (fs::is_directory(st)) {
        if (fs::exists(p / "config.json")) {
            status = src.open_hf_folder(path);
        } else if (fs::exists(p / "tokenizer.json")) {
            status = src.open_tokenizer_json((p / "tokenizer.json").string());
            if (status.ok() && has_safetensors(p))
                src.m_desc.warnings.push_back(path + ": *.safetensors weights ignored: no config.json describes them");
        } else {
            return Status::error(path + ": folder holds neither config.json (a Hugging Face model) nor "
                                        "tokenizer.json");
        }
    } else if (p.extension() == ".safetensors" || file_name == "config.json" ||
               ends_with(file_name, ".safetensors.index.json")) {
        status = src.open_hf_folder(parent);
    } else if (file_name == "tokenizer_config.json") {
        status = src.open_tokenizer_json((fs::path(parent) / "tokenizer.json").string());
    } else if (p.extension() == ".json") {
        status = src.open_tokenizer_json(path);
    } else {
        status = src.open_gguf(path);
    }
    if (!status.ok()) return status;
    src.finish_description();
    return src;
}

namespace {

// Adds a tensor to the per-type histogram.
void add_type_stats(std::map<std::string, TensorTypeStats>& stats, const std::string& type, uint64_t elements,
                    uint64_t bytes) {
    TensorTypeStats& s = stats[type];
    s.type = type;
    s.tensors += 1;
    s.elements += elements;
    s.bytes += bytes;
}

std::vector<TensorTypeStats> sorted_stats(const std::map<std::string, TensorTypeStats>& stats) {
    std::vector<TensorTypeStats> out;
    for (const auto& [name, s] : stats) out.push_back(s);
    std::sort(out.begin(), out.end(), [](const TensorTypeStats& a, const TensorTypeStats& b) {
        return a.bytes != b.bytes ? a.bytes > b.bytes : a.type < b.type;
    });
    return out;
}

}  // namespace

Status ModelSource::open_gguf(const std::string& path) {
    auto model = GgufModel::open(path);
    if (!model) return model.status();
    m_gguf = std::make_unique<GgufModel>(std::move(model.value()));
    const GgufFile& primary = m_gguf->primary();
    m_desc.format = m_gguf->files().size() > 1 ? ModelFormat::GgufSplit : ModelFormat::Gguf;
    m_desc.file_bytes = m_gguf->total_bytes();
    if (auto name = primary.get_string("general.name")) m_desc.name = *name;
    if (auto arch = primary.get_string("general.architecture")) m_desc.architecture = *arch;
    if (m_desc.name.empty()) m_desc.name = fs::path(path).stem().string();

    if (primary.has("tokenizer.ggml.tokens")) {
        auto vocab = vocab_from_gguf(primary);
        if (!vocab) return vocab.status();
        m_vocab = std::move(vocab.value());
    }
    m_desc.has_weights = !(m_gguf->files().size() == 1 && is_vocab_only(primary));
    if (!m_desc.has_weights) {
        m_desc.format = ModelFormat::TokenizerOnly;
        if (!m_vocab) return Status::error(path + ": holds neither tensors nor a tokenizer");
        return {};
    }

    auto hp = hparams_from_gguf(*m_gguf);
    if (!hp) return hp.status();
    const std::vector<TensorShapeRef> shapes = tensor_shapes(*m_gguf);
    MOE_RETURN_IF_ERROR(validate_tensor_shapes(*hp, hp->layout, shapes, path, &m_desc.warnings));
    m_desc.params_in_tensors = count_params(shapes, &hp.value());
    m_desc.hparams = std::move(hp.value());

    std::map<std::string, TensorTypeStats> stats;
    for (const GgufTensorInfo* t : m_gguf->tensors()) {
        WeightTensor w;
        w.name = t->name;
        w.type = t->type;
        w.ne.assign(t->ne.begin(), t->ne.begin() + t->n_dims);
        w.data = t->data;
        w.n_bytes = t->n_bytes;
        add_type_stats(stats, ggml_type_name(t->type), t->n_elements, t->n_bytes);
        m_desc.weight_bytes += t->n_bytes;
        m_tensors.push_back(std::move(w));
    }
    m_desc.tensor_types = sorted_stats(stats);
    // Everything the source needs of the metadata is taken (description, hyperparameters, vocabulary): its values
    // would otherwise stay on the heap as long as the model is loaded (~20 MB for a 100k-token vocabulary).
    m_gguf->release_metadata();
    return {};
}

namespace {

std::string dims_text(const std::vector<uint64_t>& shape) {
    std::vector<int64_t> v;
    for (uint64_t d : shape) v.push_back(static_cast<int64_t>(d));
    return format_shape(v);
}

// The file holding an HF tensor, for messages.
std::string file_of(const SafetensorsModel& st, const std::string& name) {
    const SafetensorsFile* f = st.file_of(name);
    return f != nullptr ? f->path() : st.folder();
}

// An F8_E4M3 [out, in] weight gets its `<name>_scale_inv` sibling: F32 [ceil(out/128), ceil(in/128)], one
// inverse scale per 128x128 block (DeepSeek-V3 FP8 checkpoints). The sibling's shape is checked here, not
// only by validate_tensor_shapes, because consumers index block_scales by it for any F8 tensor.
Status attach_block_scales(const SafetensorsModel& st, const HParams& hp, const SafetensorsTensor& t,
                           WeightTensor& w) {
    const std::string where = file_of(st, t.name) + ": tensor '" + t.name + "': ";
    if (t.shape.size() != 2)
        return Status::error(where + "F8_E4M3 " + dims_text(t.shape) +
                             ": expected a 2-D [out, in] matrix (FP8 weights carry 128x128 block scales)");
    const int64_t block_rows = hp.hf_fp8_block_rows > 0 ? hp.hf_fp8_block_rows : 128;
    const int64_t block_cols = hp.hf_fp8_block_cols > 0 ? hp.hf_fp8_block_cols : 128;
    if (block_rows != 128 || block_cols != 128)
        return Status::error(where + "F8_E4M3 weight with config.json quantization_config.weight_block_size [" +
                             std::to_string(block_rows) + ", " + std::to_string(block_cols) +
                             "]; only [128, 128] blocks are supported");
    const std::vector<uint64_t> grid = {(t.shape[0] + 127) / 128, (t.shape[1] + 127) / 128};
    const std::string scale_name = t.name + "_scale_inv";
    const SafetensorsTensor* scale = st.find_tensor(scale_name);
    if (scale == nullptr)
        return Status::error(where + "F8_E4M3 weight without its block-scale tensor '" + scale_name + "' (F32 " +
                             dims_text(grid) + ")");
    if (scale->dtype != SafetensorsDtype::F32 || scale->shape != grid)
        return Status::error(file_of(st, scale_name) + ": tensor '" + scale_name + "': " +
                             safetensors_dtype_name(scale->dtype) + " " + dims_text(scale->shape) +
                             ", expected F32 " + dims_text(grid) + " = [ceil(out/128), ceil(in/128)] for '" + t.name +
                             "' " + dims_text(t.shape));
    w.type = GgmlType::F8_E4M3_B128;
    w.block_scales = scale->data;
    return {};
}

}  // namespace

Status ModelSource::open_hf_folder(const std::string& folder) {
    const std::string config = (fs::path(folder) / "config.json").string();
    if (!fs::exists(config)) return Status::error(folder + ": no config.json (needed to read a safetensors model)");
    auto hp = hparams_from_hf_config(config);
    if (!hp) return hp.status();
    auto st = SafetensorsModel::open(folder);
    if (!st) return st.status();
    m_safetensors = std::make_unique<SafetensorsModel>(std::move(st.value()));
    m_desc.format = ModelFormat::Safetensors;
    m_desc.has_weights = true;
    m_desc.name = fs::path(folder).filename().string();
    if (m_desc.name.empty() || m_desc.name == ".") m_desc.name = fs::absolute(folder).parent_path().filename().string();
    m_desc.architecture = hp->source_arch;
    for (const SafetensorsFile& f : m_safetensors->files()) m_desc.file_bytes += f.file_size();

    std::vector<TensorShapeRef> shapes;
    shapes.reserve(m_safetensors->tensors().size());
    for (const SafetensorsTensor* t : m_safetensors->tensors()) {
        TensorShapeRef ref;
        ref.name = t->name;
        for (uint64_t d : t->shape) ref.shape.push_back(static_cast<int64_t>(d));
        shapes.push_back(std::move(ref));
    }
    MOE_RETURN_IF_ERROR(validate_tensor_shapes(*hp, WeightLayout::HuggingFace, shapes, folder, &m_desc.warnings));
    m_desc.params_in_tensors = count_params(shapes, &hp.value());
    MOE_RETURN_IF_ERROR(collect_hf_tensors(*hp));
    m_desc.hparams = std::move(hp.value());

    const fs::path tok = fs::path(folder) / "tokenizer.json";
    if (fs::exists(tok)) {
        const fs::path cfg = fs::path(folder) / "tokenizer_config.json";
        auto vocab = vocab_from_hf(tok.string(), fs::exists(cfg) ? cfg.string() : std::string());
        if (!vocab) return vocab.status();
        m_vocab = std::move(vocab.value());
    } else {
        m_desc.warnings.push_back("no tokenizer.json in " + folder + ": the model cannot encode text");
    }
    return {};
}

Status ModelSource::collect_hf_tensors(const HParams& hp) {
    // Names the model needs: an unsupported dtype there is an error; elsewhere (buffers such as an I64
    // position_ids that some checkpoints carry) the tensor is skipped with a warning.
    std::unordered_set<std::string> expected;
    for (ExpectedTensor& e : expected_tensors(hp, WeightLayout::HuggingFace)) expected.insert(std::move(e.name));
    std::map<std::string, TensorTypeStats> stats;
    m_tensors.reserve(m_safetensors->tensors().size());
    for (const SafetensorsTensor* t : m_safetensors->tensors()) {
        if (is_hf_mtp_tensor(t->name, hp.n_layer)) continue;  // not loaded: neither weights nor bytes
        if (ends_with(t->name, "_scale_inv")) {
            add_type_stats(stats, "f32 (fp8 block scales)", t->n_elements, t->n_bytes);
            m_desc.weight_bytes += t->n_bytes;
            continue;
        }
        WeightTensor w;
        w.name = t->name;
        w.data = t->data;
        w.n_bytes = t->n_bytes;
        for (auto it = t->shape.rbegin(); it != t->shape.rend(); ++it) w.ne.push_back(static_cast<int64_t>(*it));
        if (w.ne.empty()) w.ne.push_back(1);
        const std::optional<GgmlType> type = safetensors_to_ggml(t->dtype);
        if (t->dtype == SafetensorsDtype::F8_E4M3) {
            MOE_RETURN_IF_ERROR(attach_block_scales(*m_safetensors, hp, *t, w));
        } else if (type && (*type == GgmlType::F32 || *type == GgmlType::F16 || *type == GgmlType::BF16)) {
            w.type = *type;
        } else {
            const std::string problem = file_of(*m_safetensors, t->name) + ": tensor '" + t->name + "': dtype " +
                                        safetensors_dtype_name(t->dtype) +
                                        " is not a weight type this program reads (F32, F16, BF16, F8_E4M3)";
            if (expected.count(t->name) != 0) return Status::error(problem);
            m_desc.warnings.push_back(problem + "; skipped");
            continue;
        }
        add_type_stats(stats, ggml_type_name(w.type), t->n_elements, t->n_bytes);
        m_desc.weight_bytes += t->n_bytes;
        m_tensors.push_back(std::move(w));
    }
    m_desc.tensor_types = sorted_stats(stats);
    return {};
}

Status ModelSource::open_tokenizer_json(const std::string& path) {
    const fs::path cfg = fs::path(path).parent_path() / "tokenizer_config.json";
    auto vocab = vocab_from_hf(path, fs::exists(cfg) ? cfg.string() : std::string());
    if (!vocab) return vocab.status();
    m_vocab = std::move(vocab.value());
    m_desc.format = ModelFormat::TokenizerOnly;
    m_desc.name = fs::path(path).parent_path().filename().string();
    if (m_desc.name.empty() || m_desc.name == ".") m_desc.name = fs::path(path).stem().string();
    std::error_code ec;
    m_desc.file_bytes = fs::file_size(path, ec);
    return {};
}

void ModelSource::finish_description() {
    if (m_desc.hparams) m_desc.params = count_params(*m_desc.hparams);
    if (m_vocab) {
        TokenizerSummary t;
        t.kind = m_vocab->model == "gpt2" ? "bpe (byte-level, gpt2)" : m_vocab->model;
        t.pre = m_vocab->pre;
        t.n_vocab = static_cast<int64_t>(m_vocab->n_tokens());
        t.n_merges = static_cast<int64_t>(m_vocab->merges.size());
        for (TokenType type : m_vocab->token_types)
            if (type == TokenType::Control || type == TokenType::UserDefined) ++t.n_special;
        t.bos_id = m_vocab->bos_id;
        t.eos_id = m_vocab->eos_id;
        t.add_bos = m_vocab->add_bos;
        t.source = m_vocab->source;
        m_desc.tokenizer = t;
        m_desc.has_chat_template = !m_vocab->chat_template.empty();
        // Ids past the embedding would index outside token_embd (a smaller tokenizer is normal: padding).
        if (m_desc.hparams && t.n_vocab > m_desc.hparams->n_vocab)
            m_desc.warnings.push_back(t.source + ": the tokenizer has " + std::to_string(t.n_vocab) +
                                      " tokens but the model's vocab_size is " +
                                      std::to_string(m_desc.hparams->n_vocab));
    }
    m_index.reserve(m_tensors.size());
    for (size_t i = 0; i < m_tensors.size(); ++i) m_index.emplace(m_tensors[i].name, i);
    const std::string arch = m_desc.hparams ? arch_name(m_desc.hparams->arch) : m_desc.architecture;
    m_desc.builtin_template = guess_builtin_template(arch, m_vocab ? m_vocab->pre : std::string());
}

const WeightTensor* ModelSource::find_tensor(const std::string& name) const {
    const auto it = m_index.find(name);
    return it == m_index.end() ? nullptr : &m_tensors[it->second];
}

MemoryPlan plan_model_memory(const ModelDescription& desc, KvType kv, int64_t n_ctx) {
    if (!desc.hparams) {
        MemoryPlan plan;
        plan.weight_bytes = desc.weight_bytes;
        plan.total_bytes = desc.weight_bytes;
        plan.n_ctx = n_ctx;
        return plan;
    }
    return plan_memory(*desc.hparams, desc.weight_bytes, kv, n_ctx);
}

}  // namespace moe
