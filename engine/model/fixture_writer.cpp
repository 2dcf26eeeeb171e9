// Writing fixtures: the value of every element (header comment of fixture_writer.h), the tensor plan from
// expected_tensors(), parallel generation streamed into GgufWriter / SafetensorsWriter, GGUF metadata and
// the HF folder's JSON files.
#include "model/fixture_writer.h"

#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "formats/quants.h"
#include "formats/safetensors.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

namespace moe {

namespace {

constexpr uint64_t k_golden = 0x9E3779B97F4A7C15ull;
constexpr int64_t k_batch_elements = int64_t{1} << 22;  // 16 MB of floats per generated batch
constexpr int64_t k_parallel_min_elements = int64_t{1} << 16;
constexpr uint64_t k_default_shard_bytes = 2'000'000'000ull;

uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t tensor_key(uint64_t seed, const std::string& canonical) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the name
    for (char c : canonical) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
    return mix64(mix64(seed + k_golden) ^ h);
}

// Irwin-Hall(4) of 16-bit uniforms, standardised: (t - 2*65535) * sqrt(3) / 65536 has mean 0, variance
// ~1. Integer sums are exact, so the value is the same on every machine.
inline float unit_normal(uint64_t key, uint64_t index) {
    const uint64_t h = mix64(key + (index + 1) * k_golden);
    const int64_t t = static_cast<int64_t>(h & 0xFFFF) + static_cast<int64_t>((h >> 16) & 0xFFFF) +
                      static_cast<int64_t>((h >> 32) & 0xFFFF) + static_cast<int64_t>(h >> 48);
    constexpr float k_norm = 1.7320508075688772f / 65536.0f;
    return static_cast<float>(t - 2 * 65535) * k_norm;
}

// How an output tensor's rows are read from its canonical tensor.
enum class RowMap {
    Identity,     // row r = canonical row r (+ offset elements: HF expert slices)
    HeadPermute,  // HF q/k of deepseek (v1) / llama: inverse of the converter's rope permutation
    SplitK,       // attn_k_b {nope, kv_lora, H} from attn_kv_b (transposed per head)
    SplitV,       // attn_v_b {kv_lora, v, H} from attn_kv_b
};

struct ValueSource {
    uint64_t key = 0;
    float scale = 0.02f;
    bool constant = false;  // every element == scale (norm weights)
    uint64_t offset = 0;    // elements
    RowMap map = RowMap::Identity;
    int64_t head_dim = 0;                   // HeadPermute
    int64_t nope = 0, v_dim = 0, kv_lora = 0;  // SplitK / SplitV
};

// One row of ne0 elements of an output tensor, as floats.
void fill_row(const ValueSource& s, int64_t row, int64_t ne0, float* dst) {
    if (s.constant) {
        std::fill(dst, dst + ne0, s.scale);
        return;
    }
    int64_t src_row = row;
    switch (s.map) {
        case RowMap::Identity: break;
        case RowMap::HeadPermute: {
            const int64_t half = s.head_dim / 2;
            const int64_t h = row / s.head_dim, rem = row % s.head_dim;
            src_row = h * s.head_dim + 2 * (rem % half) + rem / half;
            break;
        }
        case RowMap::SplitK: {  // row = h*kv_lora + c; element n = kv_b[h*(nope+v) + n][c]
            const int64_t h = row / s.kv_lora, c = row % s.kv_lora;
            for (int64_t n = 0; n < ne0; ++n) {
                const auto idx = static_cast<uint64_t>((h * (s.nope + s.v_dim) + n) * s.kv_lora + c);
                dst[n] = unit_normal(s.key, idx) * s.scale;
            }
            return;
        }
        case RowMap::SplitV: {  // row = h*v + j -> kv_b row h*(nope+v) + nope + j
            const int64_t h = row / s.v_dim, j = row % s.v_dim;
            src_row = h * (s.nope + s.v_dim) + s.nope + j;
            break;
        }
    }
    const uint64_t base = s.offset + static_cast<uint64_t>(src_row) * static_cast<uint64_t>(ne0);
    for (int64_t i = 0; i < ne0; ++i) dst[i] = unit_normal(s.key, base + static_cast<uint64_t>(i)) * s.scale;
}

// HF module names -> canonical GGUF names (per layer suffixes).
const std::pair<const char*, const char*> k_hf_to_gguf[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_a_proj.weight", "attn_q_a.weight"},
    {"self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"},
    {"self_attn.q_b_proj.weight", "attn_q_b.weight"},
    {"self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"},
    {"self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"},
    {"self_attn.kv_b_proj.weight", "attn_kv_b.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate.weight", "ffn_gate_inp.weight"},
    {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
    {"mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"},
    {"mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"},
    {"mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"},
};

bool ends_with(const std::string& s, const char* suffix) {
    const size_t n = std::char_traits<char>::length(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// The canonical name of an HF tensor; `expert` gets the expert index of mlp.experts.J.* (else -1).
Result<std::string> hf_canonical(const std::string& name, int64_t& expert) {
    expert = -1;
    if (name == "model.embed_tokens.weight") return std::string("token_embd.weight");
    if (name == "model.norm.weight") return std::string("output_norm.weight");
    if (name == "lm_head.weight") return std::string("output.weight");
    static const std::string prefix = "model.layers.";
    const size_t dot = name.find('.', prefix.size());
    if (name.compare(0, prefix.size(), prefix) != 0 || dot == std::string::npos)
        return Status::error("fixture: no canonical tensor for '" + name + "'");
    const std::string layer = name.substr(prefix.size(), dot - prefix.size());
    std::string rest = name.substr(dot + 1);
    static const std::string experts = "mlp.experts.";
    if (rest.compare(0, experts.size(), experts) == 0) {
        const size_t end = rest.find('.', experts.size());
        const char* first = rest.data() + experts.size();
        const auto parsed = std::from_chars(first, rest.data() + std::min(end, rest.size()), expert);
        if (parsed.ec != std::errc() || end == std::string::npos)
            return Status::error("fixture: no canonical tensor for '" + name + "'");
        const std::string proj = rest.substr(end + 1);  // gate_proj.weight
        return "blk." + layer + ".ffn_" + proj.substr(0, proj.find('_')) + "_exps.weight";
    }
    for (const auto& [hf, gguf] : k_hf_to_gguf)
        if (rest == hf) return "blk." + layer + "." + gguf;
    return Status::error("fixture: no canonical tensor for '" + name + "'");
}

Result<ValueSource> value_source(const FixtureSpec& spec, const HParams& hp, const std::string& name) {
    ValueSource s;
    std::string canonical = name;
    if (hp.layout == WeightLayout::HuggingFace) {
        int64_t expert = -1;
        auto c = hf_canonical(name, expert);
        if (!c) return c.status();
        canonical = *c;
        if (expert >= 0) s.offset = static_cast<uint64_t>(expert * hp.n_embd * hp.n_ff_exp);
        const bool permuted = hp.arch != Arch::Deepseek2 &&
                              (ends_with(canonical, ".attn_q.weight") || ends_with(canonical, ".attn_k.weight"));
        if (permuted) {
            s.map = RowMap::HeadPermute;
            s.head_dim = hp.head_dim;
        }
    } else if (ends_with(name, ".attn_k_b.weight") || ends_with(name, ".attn_v_b.weight")) {
        s.map = ends_with(name, ".attn_k_b.weight") ? RowMap::SplitK : RowMap::SplitV;
        canonical = name.substr(0, name.size() - std::char_traits<char>::length("attn_k_b.weight")) + "attn_kv_b.weight";
        s.nope = hp.qk_nope_head_dim;
        s.v_dim = hp.v_head_dim;
        s.kv_lora = hp.kv_lora_rank;
    }
    s.key = tensor_key(spec.seed, canonical);
    if (ends_with(canonical, "norm.weight")) {
        s.constant = true;
        s.scale = 1.0f;
    } else if (ends_with(canonical, "ffn_gate_inp.weight")) {
        s.scale = static_cast<float>(0.5 * std::sqrt(64.0 / static_cast<double>(hp.n_embd)));
    } else if (ends_with(canonical, "exp_probs_b.bias")) {
        s.scale = 0.1f;
    }
    return s;
}

// One tensor to write: rows of ne[0] elements, generated and converted to `type`.
struct TensorJob {
    std::string name;
    std::vector<uint64_t> ne;  // ggml order
    GgmlType type = GgmlType::F32;
    ValueSource source;
    int64_t row = 0;      // ne[0]
    int64_t n_rows = 0;
    uint64_t row_bytes = 0;
    uint64_t n_bytes = 0;
};

struct Progress {
    FixtureProgress callback;
    uint64_t total = 0;
    uint64_t done = 0;
};

// Rows [r0, r0 + nr) of `job` into `out`, split over up to n_threads threads. Each row's values depend only
// on the row index, so the bytes do not depend on the split.
Status generate_rows(const TensorJob& job, int64_t r0, int64_t nr, uint8_t* out, int n_threads) {
    const auto work = [&](int64_t begin, int64_t end, Status& status) {
        std::vector<float> values(static_cast<size_t>(job.row));
        for (int64_t r = begin; r < end && status.ok(); ++r) {
            fill_row(job.source, r0 + r, job.row, values.data());
            status = quantize_row(job.type, values.data(), out + static_cast<uint64_t>(r) * job.row_bytes, job.row);
        }
    };
    const int64_t n_elements = nr * job.row;
    const int nt = static_cast<int>(std::min<int64_t>(n_threads, std::max<int64_t>(1, n_elements / k_parallel_min_elements)));
    std::vector<Status> status(static_cast<size_t>(std::max(nt, 1)));
    if (nt <= 1) {
        work(0, nr, status[0]);
        return status[0];
    }
    std::vector<std::thread> threads;
    for (int t = 1; t < nt; ++t)
        threads.emplace_back(work, nr * t / nt, nr * (t + 1) / nt, std::ref(status[static_cast<size_t>(t)]));
    work(0, nr / nt, status[0]);
    for (std::thread& th : threads) th.join();
    for (const Status& s : status) MOE_RETURN_IF_ERROR(s);
    return {};
}

// Streams one tensor: batch b+1 is generated (in parallel) while batch b is written.
Status stream_tensor(const TensorJob& job, int n_threads, const TensorSink& sink, Progress& progress) {
    const int64_t batch_rows = std::max<int64_t>(1, k_batch_elements / job.row);
    const auto rows_in = [&](int64_t r0) { return std::min(batch_rows, job.n_rows - r0); };
    std::vector<uint8_t> buffers[2];
    for (auto& b : buffers) b.resize(static_cast<size_t>(std::min(batch_rows, job.n_rows)) * job.row_bytes);
    MOE_RETURN_IF_ERROR(generate_rows(job, 0, rows_in(0), buffers[0].data(), n_threads));
    int cur = 0;
    for (int64_t r0 = 0; r0 < job.n_rows; r0 += batch_rows) {
        const int64_t next = r0 + batch_rows;
        std::future<Status> pending;
        if (next < job.n_rows)
            pending = std::async(std::launch::async, generate_rows, std::cref(job), next, rows_in(next),
                                 buffers[1 - cur].data(), n_threads);
        const uint64_t n = static_cast<uint64_t>(rows_in(r0)) * job.row_bytes;
        const Status written = sink(buffers[cur].data(), n);
        const Status generated = pending.valid() ? pending.get() : Status();
        MOE_RETURN_IF_ERROR(written);
        MOE_RETURN_IF_ERROR(generated);
        progress.done += n;
        if (progress.callback) progress.callback(progress.done, progress.total);
        cur = 1 - cur;
    }
    return {};
}

Result<std::vector<TensorJob>> plan_tensors(const FixtureSpec& spec, const HParams& hp) {
    std::vector<TensorJob> jobs;
    for (const ExpectedTensor& e : expected_tensors(hp, hp.layout)) {
        if (!e.required) continue;  // rope_freqs, the split layout's optional attn_kv_b
        TensorJob j;
        j.name = e.name;
        for (int64_t d : e.shape) j.ne.push_back(static_cast<uint64_t>(d));
        if (hp.layout == WeightLayout::HuggingFace) std::reverse(j.ne.begin(), j.ne.end());  // to ggml order
        ExpectedTensor ggml_order = e;
        ggml_order.shape.assign(j.ne.begin(), j.ne.end());
        j.type = fixture_tensor_type(spec, ggml_order);
        auto source = value_source(spec, hp, e.name);
        if (!source) return source.status();
        j.source = *source;
        j.row = static_cast<int64_t>(j.ne[0]);
        uint64_t n = 1;
        for (uint64_t d : j.ne) n *= d;
        j.n_rows = static_cast<int64_t>(n / j.ne[0]);
        j.row_bytes = ggml_bytes(j.type, j.ne[0]).value_or(0);
        j.n_bytes = j.row_bytes * static_cast<uint64_t>(j.n_rows);
        jobs.push_back(std::move(j));
    }
    return jobs;
}

}  // namespace

float fixture_value(uint64_t seed, const std::string& canonical_name, uint64_t index, float scale) {
    return unit_normal(tensor_key(seed, canonical_name), index) * scale;
}

// ---- GGUF ---------------------------------------------------------------------------------------------------

namespace {

uint32_t llama_file_type(GgmlType type) {
    switch (type) {
        case GgmlType::F16: return 1;
        case GgmlType::Q8_0: return 7;
        case GgmlType::Q4_K: return 15;  // LLAMA_FTYPE_MOSTLY_Q4_K_M
        case GgmlType::BF16: return 32;
        default: return 0;
    }
}

void set_u32(GgufWriter& w, const std::string& key, int64_t v) { w.set(key, GgufValue::make_u32(static_cast<uint32_t>(v))); }
void set_f32(GgufWriter& w, const std::string& key, double v) { w.set(key, GgufValue::make_f32(static_cast<float>(v))); }

// `<arch>.*` keys as llama.cpp's converter writes them (and b4747 reads them).
void set_arch_keys(GgufWriter& w, const FixtureSpec& s, const HParams& hp) {
    const std::string a = std::string(arch_name(s.arch)) + ".";
    set_u32(w, a + "block_count", s.n_layer);
    set_u32(w, a + "context_length", s.n_ctx);
    set_u32(w, a + "embedding_length", s.n_embd);
    set_u32(w, a + "feed_forward_length", s.n_ff);
    set_u32(w, a + "attention.head_count", s.n_head);
    const bool split = hp.layout == WeightLayout::GgufSplitMla;
    set_u32(w, a + "attention.head_count_kv", s.arch == Arch::Deepseek2 ? (split ? 1 : s.n_head) : s.n_head_kv);
    set_f32(w, a + "rope.freq_base", s.rope_freq_base);
    set_f32(w, a + "attention.layer_norm_rms_epsilon", s.rms_eps);
    set_u32(w, a + "vocab_size", s.n_vocab);
    set_u32(w, a + "rope.dimension_count", hp.n_rot);
    if (s.arch != Arch::Llama) {
        set_u32(w, a + "leading_dense_block_count", s.n_leading_dense);
        set_u32(w, a + "expert_feed_forward_length", s.n_ff_exp);
        set_u32(w, a + "expert_count", s.n_expert);
        set_u32(w, a + "expert_used_count", s.n_expert_used);
        set_u32(w, a + "expert_shared_count", s.n_expert_shared);
        set_f32(w, a + "expert_weights_scale", s.expert_weights_scale);
    }
    if (s.arch == Arch::Deepseek2) {
        if (s.q_lora_rank > 0) set_u32(w, a + "attention.q_lora_rank", s.q_lora_rank);
        set_u32(w, a + "attention.kv_lora_rank", s.kv_lora_rank);
        // Legacy: the naive per-head sizes. Split: the absorbed sizes, the naive ones in *_mla.
        set_u32(w, a + "attention.key_length", split ? s.kv_lora_rank + s.qk_rope_head_dim : s.qk_nope_head_dim + s.qk_rope_head_dim);
        set_u32(w, a + "attention.value_length", split ? s.kv_lora_rank : s.v_head_dim);
        if (split) {
            set_u32(w, a + "attention.key_length_mla", s.qk_nope_head_dim + s.qk_rope_head_dim);
            set_u32(w, a + "attention.value_length_mla", s.v_head_dim);
        }
        w.set(a + "expert_weights_norm", GgufValue::make_bool(s.expert_weights_norm));
        set_u32(w, a + "expert_gating_func", s.gating == Gating::Sigmoid ? 2 : 1);
        if (s.n_group > 1) {
            set_u32(w, a + "expert_group_count", s.n_group);
            set_u32(w, a + "expert_group_used_count", s.n_group_used);
        }
    }
    if (s.yarn) {
        w.set(a + "rope.scaling.type", GgufValue::make_string("yarn"));
        set_f32(w, a + "rope.scaling.factor", s.yarn_factor);
        set_u32(w, a + "rope.scaling.original_context_length", s.yarn_original_ctx);
        set_f32(w, a + "rope.scaling.yarn_log_multiplier", s.yarn_log_multiplier);
    }
}

void set_tokenizer_keys(GgufWriter& w, const VocabData& v) {
    w.set("tokenizer.ggml.model", GgufValue::make_string(v.model));
    w.set("tokenizer.ggml.pre", GgufValue::make_string(v.pre));
    w.set("tokenizer.ggml.tokens", GgufValue::make_string_array(v.tokens));
    std::vector<int32_t> types;
    types.reserve(v.token_types.size());
    for (TokenType t : v.token_types) types.push_back(static_cast<int32_t>(t));
    w.set("tokenizer.ggml.token_type", GgufValue::make_i32_array(types));
    std::vector<std::string> merges;
    merges.reserve(v.merges.size());
    for (const auto& [a, b] : v.merges) merges.push_back(a + " " + b);
    w.set("tokenizer.ggml.merges", GgufValue::make_string_array(merges));
    w.set("tokenizer.ggml.bos_token_id", GgufValue::make_u32(static_cast<uint32_t>(v.bos_id)));
    w.set("tokenizer.ggml.eos_token_id", GgufValue::make_u32(static_cast<uint32_t>(v.eos_id)));
    w.set("tokenizer.ggml.padding_token_id", GgufValue::make_u32(static_cast<uint32_t>(v.pad_id)));
    w.set("tokenizer.ggml.add_bos_token", GgufValue::make_bool(v.add_bos));
    w.set("tokenizer.ggml.add_eos_token", GgufValue::make_bool(v.add_eos));
    w.set("tokenizer.chat_template", GgufValue::make_string(v.chat_template));
}

TensorProducer make_producer(std::shared_ptr<const TensorJob> job, int n_threads, std::shared_ptr<Progress> progress) {
    return [job, n_threads, progress](const TensorSink& sink) { return stream_tensor(*job, n_threads, sink, *progress); };
}

Result<std::vector<std::string>> write_gguf(const FixtureSpec& s, const HParams& hp, const VocabData& vocab,
                                            const std::vector<TensorJob>& jobs, int n_threads,
                                            const std::shared_ptr<Progress>& progress, const std::string& path) {
    GgufWriter w;
    w.set("general.architecture", GgufValue::make_string(arch_name(s.arch)));
    w.set("general.type", GgufValue::make_string("model"));
    w.set("general.name", GgufValue::make_string(s.name));
    w.set("general.alignment", GgufValue::make_u32(k_gguf_default_alignment));
    set_arch_keys(w, s, hp);
    w.set("general.file_type", GgufValue::make_u32(llama_file_type(s.type)));
    w.set("general.quantization_version", GgufValue::make_u32(2));
    set_tokenizer_keys(w, vocab);
    for (const TensorJob& j : jobs)
        MOE_RETURN_IF_ERROR(w.add_tensor(j.name, j.type, j.ne, j.n_bytes,
                                         make_producer(std::make_shared<TensorJob>(j), n_threads, progress)));
    if (s.split_max_bytes > 0) return w.write_split(path, s.split_max_bytes);
    MOE_RETURN_IF_ERROR(w.write(path));
    return std::vector<std::string>{path};
}

// ---- HF folder ----------------------------------------------------------------------------------------------

SafetensorsDtype st_dtype(GgmlType type) {
    if (type == GgmlType::F16) return SafetensorsDtype::F16;
    if (type == GgmlType::BF16) return SafetensorsDtype::BF16;
    return SafetensorsDtype::F32;
}

Status write_text(const std::string& path, const std::string& text) { return write_file_atomic(path, text.data(), text.size()); }

Result<std::vector<std::string>> write_hf(const FixtureSpec& s, const VocabData& vocab, const std::vector<TensorJob>& jobs,
                                          int n_threads, const std::shared_ptr<Progress>& progress,
                                          const std::string& folder) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) return Status::error(folder + ": cannot create the folder: " + ec.message());
    SafetensorsWriter w;
    MOE_RETURN_IF_ERROR(w.set_metadata("format", "pt"));
    for (const TensorJob& j : jobs) {
        std::vector<uint64_t> shape(j.ne.rbegin(), j.ne.rend());  // PyTorch order
        MOE_RETURN_IF_ERROR(w.add_tensor(j.name, st_dtype(j.type), std::move(shape), j.n_bytes,
                                         make_producer(std::make_shared<TensorJob>(j), n_threads, progress)));
    }
    MOE_RETURN_IF_ERROR(w.write_sharded(folder, "model", s.shard_max_bytes > 0 ? s.shard_max_bytes : k_default_shard_bytes));
    std::vector<std::string> files;
    const fs::path dir(folder);
    const fs::path index = dir / "model.safetensors.index.json";
    if (fs::exists(index)) {
        auto text = read_text_file(index.string());
        if (!text) return text.status();
        auto parsed = parse_safetensors_index(*text, index.string());
        if (!parsed) return parsed.status();
        std::vector<std::string> shards;
        for (const auto& [tensor, file] : parsed->weight_map) shards.push_back((dir / file).string());
        std::sort(shards.begin(), shards.end());
        shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
        files = shards;
        files.push_back(index.string());
    } else {
        files.push_back((dir / "model.safetensors").string());
    }
    const std::pair<const char*, std::string> texts[] = {
        {"config.json", fixture_hf_config_json(s, vocab)},
        {"generation_config.json", "{\n  \"_from_model_config\": true,\n  \"bos_token_id\": " + std::to_string(vocab.bos_id) +
                                       ",\n  \"eos_token_id\": " + std::to_string(vocab.eos_id) + "\n}\n"},
        {"tokenizer.json", fixture_tokenizer_json(vocab)},
        {"tokenizer_config.json", fixture_tokenizer_config_json(vocab)},
    };
    for (const auto& [name, text] : texts) {
        files.push_back((dir / name).string());
        MOE_RETURN_IF_ERROR(write_text(files.back(), text));
    }
    return files;
}

}  // namespace

namespace {

Result<FixtureResult> write_fixture_impl(const FixtureSpec& spec, const std::string& out_path,
                                         const FixtureProgress& progress_callback) {
    const auto start = std::chrono::steady_clock::now();
    MOE_RETURN_IF_ERROR(validate_fixture_spec(spec));
    const HParams hp = fixture_hparams(spec, fixture_layout(spec));
    auto vocab = fixture_vocab(spec);
    if (!vocab) return vocab.status();
    auto jobs = plan_tensors(spec, hp);
    if (!jobs) return jobs.status();
    auto progress = std::make_shared<Progress>();
    progress->callback = progress_callback;
    FixtureResult result;
    for (const TensorJob& j : *jobs) {
        progress->total += j.n_bytes;
        result.n_params += j.ne[0] * static_cast<uint64_t>(j.n_rows);
    }
    const int n_threads = spec.n_threads > 0 ? spec.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto files = spec.format == FixtureFormat::Gguf ? write_gguf(spec, hp, *vocab, *jobs, n_threads, progress, out_path)
                                                    : write_hf(spec, *vocab, *jobs, n_threads, progress, out_path);
    if (!files) return files.status();
    result.files = std::move(*files);
    for (const std::string& f : result.files) {
        std::error_code ec;
        const auto n = std::filesystem::file_size(f, ec);
        if (!ec) result.n_bytes += n;
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

}  // namespace

Result<FixtureResult> write_fixture(const FixtureSpec& spec, const std::string& out_path,
                                    const FixtureProgress& progress) {
    try {  // thread creation and buffers can throw; errors are values here
        return write_fixture_impl(spec, out_path, progress);
    } catch (const std::exception& e) {
        return Status::error(out_path + ": " + e.what());
    }
}

}  // namespace moe
