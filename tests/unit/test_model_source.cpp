// ModelSource end to end on models built here: Hugging Face folders (DeepSeek V1/V2-Lite/V3 FP8 + MTP,
// Llama GQA; one file and sharded with an index), their errors, a split GGUF rewritten from a fixture, and
// tokenizers alone. Every folder is made by tests/support/hf_model_builder.h from expected_tensors().
#include "check.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "hf_model_builder.h"
#include "model/model_source.h"
#include "model/tensor_layout.h"
#include "tokenizer/tokenizer.h"

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace moe;
namespace fs = std::filesystem;
namespace hf = moe_test::hf;

namespace {

std::string fresh_dir(const std::string& name) {
    const fs::path p = fs::path(moe_test::temp_dir()) / name;
    fs::remove_all(p);
    return p.string();
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The type-histogram row a written tensor should land in.
std::string stats_type(const hf::Tensor& t) {
    if (hf::is_scale_name(t.name)) return "f32 (fp8 block scales)";
    switch (t.dtype) {
        case SafetensorsDtype::F8_E4M3: return "f8_e4m3";
        case SafetensorsDtype::BF16: return "bf16";
        case SafetensorsDtype::F16: return "f16";
        default: return "f32";
    }
}

void check_tokenizer(const ModelDescription& d, bool with_config) {
    REQUIRE(d.tokenizer.has_value());
    const TokenizerSummary& t = *d.tokenizer;
    CHECK_EQ(t.n_vocab, int64_t{hf::k_tokenizer_vocab});
    CHECK_EQ(t.n_merges, int64_t{hf::k_tokenizer_merges});
    CHECK_EQ(t.n_special, int64_t{2});
    CHECK_EQ(t.pre, std::string("deepseek-v3"));
    CHECK(contains(t.source, "tokenizer.json"));
    CHECK_EQ(d.has_chat_template, with_config);
    if (with_config) {
        CHECK_EQ(t.bos_id, hf::k_bos_id);
        CHECK_EQ(t.eos_id, hf::k_eos_id);
        CHECK(t.add_bos);
    }
}

// The written tensors against what ModelSource describes and maps.
void check_hf_tensors(const ModelSource& src, const std::vector<hf::Tensor>& written) {
    const ModelDescription& d = src.description();
    std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;  // type -> (tensors, bytes)
    uint64_t n_weights = 0, n_params = 0, n_bytes = 0;
    for (const hf::Tensor& t : written) {
        const bool scale = stats_type(t) == "f32 (fp8 block scales)";
        if (t.mtp) {
            CHECK(src.find_tensor(t.name) == nullptr);
            continue;
        }
        by_type[stats_type(t)].first += 1;
        by_type[stats_type(t)].second += t.data.size();
        n_bytes += t.data.size();
        if (scale) {
            CHECK(src.find_tensor(t.name) == nullptr);
            continue;
        }
        ++n_weights;
        uint64_t n = 1;
        for (uint64_t dim : t.shape) n *= dim;
        n_params += n;
        const WeightTensor* w = src.find_tensor(t.name);
        REQUIRE(w != nullptr);
        CHECK_EQ(w->ne.size(), t.shape.size());
        for (size_t i = 0; i < t.shape.size() && i < w->ne.size(); ++i)
            CHECK_EQ(w->ne[i], static_cast<int64_t>(t.shape[t.shape.size() - 1 - i]));
        CHECK_EQ(w->n_bytes, uint64_t{t.data.size()});
        CHECK(std::memcmp(w->data, t.data.data(), t.data.size()) == 0);
        if (t.dtype == SafetensorsDtype::F8_E4M3) {
            CHECK(w->type == GgmlType::F8_E4M3_B128);
            const hf::Tensor* s = nullptr;
            for (const hf::Tensor& c : written)
                if (c.name == t.name + "_scale_inv") s = &c;
            REQUIRE(s != nullptr && w->block_scales != nullptr);
            CHECK(std::memcmp(w->block_scales, s->data.data(), s->data.size()) == 0);
        } else {
            CHECK(w->type == (t.dtype == SafetensorsDtype::BF16 ? GgmlType::BF16 : GgmlType::F32));
            CHECK(w->block_scales == nullptr);
        }
    }
    CHECK_EQ(src.tensors().size(), size_t{n_weights});
    CHECK_EQ(d.params_in_tensors, n_params);
    CHECK_EQ(d.params.total, n_params);
    CHECK_EQ(d.weight_bytes, n_bytes);
    uint64_t histogram_bytes = 0;
    CHECK_EQ(d.tensor_types.size(), by_type.size());
    for (const TensorTypeStats& s : d.tensor_types) {
        histogram_bytes += s.bytes;
        CHECK_EQ(s.tensors, by_type[s.type].first);
        CHECK_EQ(s.bytes, by_type[s.type].second);
    }
    CHECK_EQ(histogram_bytes, n_bytes);
}

uint64_t safetensors_file_bytes(const std::string& folder) {
    uint64_t n = 0;
    for (const auto& e : fs::directory_iterator(folder))
        if (e.path().extension() == ".safetensors") n += fs::file_size(e.path());
    return n;
}

// Builds a folder from `config`, opens it and checks everything that does not depend on the architecture.
ModelSource open_built(const std::string& name, const hf::Json& config, std::vector<hf::Tensor>& written,
                       const hf::FolderOptions& options = {}) {
    const std::string folder = fresh_dir(name);
    auto tensors = hf::build_folder(folder, config, options);
    REQUIRE_OK(tensors);
    written = std::move(*tensors);
    auto src = ModelSource::open(folder);
    REQUIRE_OK(src);
    const ModelDescription& d = src->description();
    CHECK_EQ(std::string(model_format_name(d.format)), std::string("safetensors"));
    CHECK(d.has_weights);
    CHECK_EQ(d.name, name);
    CHECK_EQ(d.architecture, config["model_type"].get<std::string>());
    CHECK_EQ(d.file_bytes, safetensors_file_bytes(folder));
    for (const std::string& w : d.warnings) std::fprintf(stderr, "  unexpected warning: %s\n", w.c_str());
    CHECK(d.warnings.empty());
    REQUIRE(d.hparams.has_value());
    const HParams& hp = *d.hparams;
    CHECK_EQ(hp.n_vocab, config["vocab_size"].get<int64_t>());
    CHECK_EQ(hp.n_embd, config["hidden_size"].get<int64_t>());
    CHECK_EQ(hp.n_layer, config["num_hidden_layers"].get<int64_t>());
    CHECK_EQ(hp.n_head, config["num_attention_heads"].get<int64_t>());
    CHECK_EQ(hp.n_ff, config["intermediate_size"].get<int64_t>());
    CHECK(hp.layout == WeightLayout::HuggingFace);
    check_hf_tensors(*src, written);
    check_tokenizer(d, options.tokenizer_config);
    return std::move(src.value());
}

void check_moe(const HParams& hp, const hf::Json& c) {
    CHECK_EQ(hp.n_expert, c["n_routed_experts"].get<int64_t>());
    CHECK_EQ(hp.n_expert_used, c["num_experts_per_tok"].get<int64_t>());
    CHECK_EQ(hp.n_expert_shared, c["n_shared_experts"].get<int64_t>());
    CHECK_EQ(hp.n_ff_exp, c["moe_intermediate_size"].get<int64_t>());
    CHECK_EQ(hp.n_leading_dense, c["first_k_dense_replace"].get<int64_t>());
}

}  // namespace

MOE_TEST(hf_deepseek_v2_lite_sharded_with_index) {
    const hf::Json config = hf::config_deepseek_v2_lite();
    std::vector<hf::Tensor> written;
    hf::FolderOptions options;
    options.max_shard_bytes = 64 * 1024;  // ~0.5 MB of weights: several shards
    const ModelSource src = open_built("ds2-lite", config, written, options);
    CHECK(fs::exists(fs::path(moe_test::temp_dir()) / "ds2-lite" / "model.safetensors.index.json"));
    CHECK(!fs::exists(fs::path(moe_test::temp_dir()) / "ds2-lite" / "model.safetensors"));
    const HParams& hp = *src.description().hparams;
    CHECK(hp.arch == Arch::Deepseek2);
    check_moe(hp, config);
    CHECK_EQ(hp.q_lora_rank, int64_t{0});
    CHECK_EQ(hp.kv_lora_rank, int64_t{32});
    CHECK(hp.gating == Gating::Softmax);
    CHECK(hp.rope_scaling == RopeScaling::Yarn);
    CHECK(src.find_tensor("model.layers.0.self_attn.q_proj.weight") != nullptr);  // no q_lora: q_proj
    CHECK(src.find_tensor("model.layers.0.self_attn.q_a_proj.weight") == nullptr);
    // [n_head*(nope+v), kv_lora] in PyTorch order -> ne {kv_lora, n_head*(nope+v)}
    const WeightTensor* kv_b = src.find_tensor("model.layers.2.self_attn.kv_b_proj.weight");
    REQUIRE(kv_b != nullptr);
    CHECK(kv_b->ne == (std::vector<int64_t>{32, 4 * (16 + 16)}));
    // The tokenizer the folder carries encodes with its merges: " the" is one token, BOS first.
    auto tok = Tokenizer::create(*src.vocab());
    REQUIRE_OK(tok);
    CHECK(tok->encode("the in the", true, false) == (std::vector<int32_t>{260, 116, 257, 32, 259, 258}));
}

MOE_TEST(hf_deepseek_v3_fp8_with_mtp_layer) {
    const hf::Json config = hf::config_deepseek_v3();
    std::vector<hf::Tensor> written;
    const ModelSource src = open_built("ds3-fp8", config, written);
    const ModelDescription& d = src.description();
    const HParams& hp = *d.hparams;
    CHECK(hp.arch == Arch::Deepseek2);
    check_moe(hp, config);
    CHECK_EQ(hp.q_lora_rank, int64_t{48});
    CHECK(hp.gating == Gating::Sigmoid);
    CHECK(hp.has_expert_bias);
    CHECK_EQ(hp.n_group, int64_t{2});
    CHECK_EQ(hp.num_nextn_predict_layers, int64_t{1});
    CHECK_EQ(hp.hf_quant_method, std::string("fp8"));
    // The builder really wrote FP8 weights, scales and an MTP layer.
    int n_fp8 = 0, n_mtp = 0;
    for (const hf::Tensor& t : written) {
        n_fp8 += t.dtype == SafetensorsDtype::F8_E4M3;
        n_mtp += t.mtp;
    }
    CHECK(n_fp8 > 50);
    CHECK(n_mtp > 20);
    CHECK(src.find_tensor("model.layers.3.eh_proj.weight") == nullptr);
    CHECK(src.find_tensor("model.layers.3.mlp.experts.0.up_proj.weight") == nullptr);
    // Dense FFN [160, 64]: 2x1 blocks of 128; the router stays BF16, the score bias F32.
    const WeightTensor* up = src.find_tensor("model.layers.0.mlp.up_proj.weight");
    REQUIRE(up != nullptr);
    CHECK(up->type == GgmlType::F8_E4M3_B128);
    CHECK(up->ne == (std::vector<int64_t>{64, 160}));
    const WeightTensor* gate = src.find_tensor("model.layers.1.mlp.gate.weight");
    REQUIRE(gate != nullptr);
    CHECK(gate->type == GgmlType::BF16);
    const WeightTensor* bias = src.find_tensor("model.layers.1.mlp.gate.e_score_correction_bias");
    REQUIRE(bias != nullptr);
    CHECK(bias->type == GgmlType::F32);
    CHECK(d.tensor_types.front().type == "f8_e4m3");  // by bytes: the experts dominate
}

MOE_TEST(hf_deepseek_v1_and_llama_gqa) {
    {
        const hf::Json config = hf::config_deepseek_v1();
        std::vector<hf::Tensor> written;
        const ModelSource src = open_built("ds1", config, written);
        const HParams& hp = *src.description().hparams;
        CHECK(hp.arch == Arch::Deepseek);
        check_moe(hp, config);
        CHECK_EQ(hp.head_dim, int64_t{16});
        CHECK(src.find_tensor("model.layers.2.mlp.shared_experts.down_proj.weight") != nullptr);
    }
    {
        const hf::Json config = hf::config_llama_gqa();
        std::vector<hf::Tensor> written;
        hf::FolderOptions options;
        options.tokenizer_config = false;  // no chat template, no BOS
        const ModelSource src = open_built("llama-gqa", config, written, options);
        const ModelDescription& d = src.description();
        const HParams& hp = *d.hparams;
        CHECK(hp.arch == Arch::Llama);
        CHECK_EQ(hp.n_head_kv, int64_t{2});
        CHECK(!hp.is_moe());
        const WeightTensor* k = src.find_tensor("model.layers.1.self_attn.k_proj.weight");
        REQUIRE(k != nullptr);
        CHECK(k->ne == (std::vector<int64_t>{64, 2 * 16}));  // [n_head_kv*head_dim, n_embd] reversed
        CHECK(!d.has_chat_template);
        CHECK(!d.builtin_template.empty());
    }
}

// One broken folder: built from `config`, `edit` applied to the tensors, then opening must fail with a
// message holding every one of `needles`.
template <class Edit>
void expect_open_error(const std::string& name, const hf::Json& config, Edit edit,
                       const std::vector<std::string>& needles, const hf::FolderOptions& options = {}) {
    const std::string folder = fresh_dir(name);
    auto tensors = hf::plan_tensors(config);
    REQUIRE_OK(tensors);
    edit(*tensors);
    REQUIRE_OK(hf::write_folder(folder, config, *tensors, options));
    auto src = ModelSource::open(folder);
    REQUIRE(!src.ok());
    std::fprintf(stderr, "  %s: %s\n", name.c_str(), src.error().c_str());
    for (const std::string& n : needles) {
        if (!contains(src.error(), n))
            moe_test::report_failure(__FILE__, __LINE__, name + ": '" + n + "' not in: " + src.error());
    }
}

MOE_TEST(hf_errors_name_the_folder_and_the_tensor) {
    const hf::Json lite = hf::config_deepseek_v2_lite();
    const hf::Json v3 = hf::config_deepseek_v3();
    const std::string up = "model.layers.1.mlp.experts.3.up_proj.weight";
    expect_open_error("bad-shape", lite, [&](std::vector<hf::Tensor>& t) {
        *hf::find(t, up) = hf::make_tensor(up, SafetensorsDtype::BF16, {33, 64});
    }, {"bad-shape", up, "[33, 64]", "[32, 64]", "n_ff_exp"});
    const std::string norm = "model.layers.2.self_attn.kv_a_layernorm.weight";
    expect_open_error("missing-tensor", lite, [&](std::vector<hf::Tensor>& t) {
        t.erase(t.begin() + (hf::find(t, norm) - t.data()));
    }, {"missing-tensor", norm, "missing"});
    const std::string ln = "model.layers.0.input_layernorm.weight";
    expect_open_error("i64-weight", lite, [&](std::vector<hf::Tensor>& t) {
        *hf::find(t, ln) = hf::make_tensor(ln, SafetensorsDtype::I64, {64});
    }, {"i64-weight", "model.safetensors", ln, "I64"});
    const std::string o = "model.layers.1.self_attn.o_proj.weight";
    expect_open_error("fp8-no-scale", v3, [&](std::vector<hf::Tensor>& t) {
        t.erase(t.begin() + (hf::find(t, o + "_scale_inv") - t.data()));
    }, {"fp8-no-scale", o, o + "_scale_inv", "F8_E4M3"});
    const std::string dense_up = "model.layers.0.mlp.up_proj.weight_scale_inv";
    expect_open_error("fp8-bad-scale", v3, [&](std::vector<hf::Tensor>& t) {
        *hf::find(t, dense_up) = hf::make_tensor(dense_up, SafetensorsDtype::F32, {1, 1});
    }, {"fp8-bad-scale", dense_up, "[2, 1]"});
    expect_open_error("fp8-bf16-scale", v3, [&](std::vector<hf::Tensor>& t) {
        *hf::find(t, dense_up) = hf::make_tensor(dense_up, SafetensorsDtype::BF16, {2, 1});
    }, {"fp8-bf16-scale/model.safetensors", dense_up, "BF16 [2, 1], expected F32 [2, 1]"});
    // config.json without hidden_size (the tensors still come from the complete config).
    hf::Json no_hidden = lite;
    no_hidden.erase("hidden_size");
    {
        const std::string folder = fresh_dir("bad-config");
        auto tensors = hf::plan_tensors(lite);
        REQUIRE_OK(tensors);
        REQUIRE_OK(hf::write_folder(folder, no_hidden, *tensors));
        auto src = ModelSource::open(folder);
        REQUIRE(!src.ok());
        CHECK(contains(src.error(), folder + "/config.json"));
        CHECK(contains(src.error(), "hidden_size"));
    }
}

MOE_TEST(hf_folder_errors_without_config_or_shard) {
    // Neither config.json nor tokenizer.json (but weights): refused, naming the folder and both files.
    const std::string bare = fresh_dir("bare");
    {
        auto tensors = hf::plan_tensors(hf::config_llama_gqa());
        REQUIRE_OK(tensors);
        hf::FolderOptions options;
        options.tokenizer = options.tokenizer_config = false;
        REQUIRE_OK(hf::write_folder(bare, hf::config_llama_gqa(), *tensors, options));
        fs::remove(fs::path(bare) / "config.json");
        auto src = ModelSource::open(bare);
        REQUIRE(!src.ok());
        CHECK(contains(src.error(), bare));
        CHECK(contains(src.error(), "config.json"));
        CHECK(contains(src.error(), "tokenizer.json"));
    }
    // The index names a shard that is gone.
    const std::string sharded = fresh_dir("lost-shard");
    hf::FolderOptions options;
    options.max_shard_bytes = 64 * 1024;
    REQUIRE_OK(hf::build_folder(sharded, hf::config_deepseek_v2_lite(), options));
    std::string lost;
    for (const auto& e : fs::directory_iterator(sharded))
        if (contains(e.path().filename().string(), "-00002-of-")) lost = e.path().filename().string();
    REQUIRE(!lost.empty());
    fs::remove(fs::path(sharded) / lost);
    auto src = ModelSource::open(sharded);
    REQUIRE(!src.ok());
    CHECK(contains(src.error(), lost));
    CHECK(contains(src.error(), "model.safetensors.index.json") || contains(src.error(), sharded));
}

MOE_TEST(hf_extra_tensors_warn_and_files_name_their_folder) {
    const hf::Json config = hf::config_llama_gqa();
    const std::string folder = fresh_dir("extras");
    auto tensors = hf::plan_tensors(config);
    REQUIRE_OK(tensors);
    // Buffers some checkpoints carry: not weights, not errors.
    tensors->push_back(hf::make_tensor("model.position_ids", SafetensorsDtype::I64, {1, 16}));
    tensors->push_back(hf::make_tensor("model.layers.0.self_attn.rotary_emb.inv_freq", SafetensorsDtype::F32, {8}));
    REQUIRE_OK(hf::write_folder(folder, config, *tensors));
    for (const std::string& path : {folder, folder + "/", folder + "/model.safetensors", folder + "/config.json"}) {
        auto src = ModelSource::open(path);
        REQUIRE_OK(src);
        const ModelDescription& d = src->description();
        CHECK(d.format == ModelFormat::Safetensors);
        CHECK_EQ(d.name, std::string("extras"));
        CHECK(src->find_tensor("model.position_ids") == nullptr);
        CHECK(src->find_tensor("model.layers.0.self_attn.rotary_emb.inv_freq") != nullptr);
        bool warned_i64 = false;
        for (const std::string& w : d.warnings) warned_i64 |= contains(w, "model.position_ids") && contains(w, "I64");
        CHECK(warned_i64);
    }
}

namespace {

// Rewrites a GGUF as `n_shards` split files; returns their paths.
std::vector<std::string> split_gguf(const GgufFile& file, const std::string& prefix, size_t n_shards) {
    GgufWriter writer;
    writer.set_alignment(file.alignment());
    for (const auto& [key, value] : file.metadata()) writer.set(key, value);
    uint64_t data_bytes = 0;
    for (const GgufTensorInfo& t : file.tensors()) {
        REQUIRE_OK(writer.add_tensor(t.name, t.type, std::vector<uint64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
                                     t.data, t.n_bytes));
        data_bytes += t.n_bytes;
    }
    // Shards are cut at tensor boundaries: look for a size limit that gives exactly n_shards files.
    for (uint64_t limit = data_bytes / n_shards; limit <= data_bytes; limit += data_bytes / 64) {
        auto paths = writer.write_split(prefix + "-" + std::to_string(limit), limit);
        REQUIRE_OK(paths);
        if (paths->size() == n_shards) return *paths;
        for (const std::string& p : *paths) fs::remove(p);
    }
    REQUIRE(false);
    return {};
}

}  // namespace

MOE_TEST(gguf_split_model_matches_the_single_file) {
    const std::string single_path = moe_test::data_path("models/fx-ds1-q8_0.gguf");
    if (single_path.empty()) MOE_SKIP("fx-ds1-q8_0.gguf absent");
    auto single = ModelSource::open(single_path);
    REQUIRE_OK(single);
    auto file = GgufFile::open(single_path);
    REQUIRE_OK(file);
    const std::string dir = fresh_dir("split");
    fs::create_directories(dir);
    const std::vector<std::string> paths = split_gguf(*file, dir + "/fx-ds1", 3);
    REQUIRE(paths.size() == 3);

    auto split = ModelSource::open(paths[1]);  // any shard opens the whole model
    REQUIRE_OK(split);
    const ModelDescription& a = single->description();
    const ModelDescription& b = split->description();
    CHECK_EQ(std::string(model_format_name(b.format)), std::string("gguf-split"));
    CHECK_EQ(b.name, a.name);
    CHECK_EQ(b.architecture, a.architecture);
    CHECK(b.has_weights);
    REQUIRE(b.hparams.has_value());
    CHECK_EQ(b.hparams->n_layer, a.hparams->n_layer);
    CHECK_EQ(b.hparams->n_expert, a.hparams->n_expert);
    CHECK_EQ(b.params.total, a.params.total);
    CHECK_EQ(b.params.active, a.params.active);
    CHECK_EQ(b.params_in_tensors, a.params_in_tensors);
    CHECK_EQ(b.weight_bytes, a.weight_bytes);
    uint64_t shard_bytes = 0;
    for (const std::string& p : paths) shard_bytes += fs::file_size(p);
    CHECK_EQ(b.file_bytes, shard_bytes);
    REQUIRE(b.tensor_types.size() == a.tensor_types.size());
    for (size_t i = 0; i < a.tensor_types.size(); ++i) {
        CHECK_EQ(b.tensor_types[i].type, a.tensor_types[i].type);
        CHECK_EQ(b.tensor_types[i].tensors, a.tensor_types[i].tensors);
        CHECK_EQ(b.tensor_types[i].bytes, a.tensor_types[i].bytes);
    }
    REQUIRE(b.tokenizer.has_value());
    CHECK_EQ(b.tokenizer->n_vocab, a.tokenizer->n_vocab);
    CHECK_EQ(b.tokenizer->bos_id, a.tokenizer->bos_id);
    CHECK_EQ(b.has_chat_template, a.has_chat_template);
    REQUIRE(split->tensors().size() == single->tensors().size());
    for (const WeightTensor& t : single->tensors()) {
        const WeightTensor* u = split->find_tensor(t.name);
        REQUIRE(u != nullptr);
        CHECK(u->type == t.type);
        CHECK(u->ne == t.ne);
        CHECK_EQ(u->n_bytes, t.n_bytes);
        CHECK(std::memcmp(u->data, t.data, t.n_bytes) == 0);
    }

    fs::remove(paths[2]);
    auto broken = ModelSource::open(paths[0]);
    REQUIRE(!broken.ok());
    CHECK(contains(broken.error(), fs::path(paths[2]).filename().string()));
}

MOE_TEST(tokenizer_alone_has_no_weights) {
    const std::string dir = fresh_dir("tok");
    fs::create_directories(dir);
    REQUIRE_OK(hf::write_text(dir + "/tokenizer.json", hf::tokenizer_json()));
    REQUIRE_OK(hf::write_text(dir + "/tokenizer_config.json", hf::tokenizer_config_json()));
    const std::string bare = fresh_dir("tok-only");
    fs::create_directories(bare);
    REQUIRE_OK(hf::write_text(bare + "/tokenizer.json", hf::tokenizer_json()));
    struct Case {
        std::string path;
        bool with_config;
    };
    for (const Case& c : {Case{dir + "/tokenizer.json", true}, Case{dir, true}, Case{bare, false},
                          Case{bare + "/tokenizer.json", false}}) {
        auto src = ModelSource::open(c.path);
        REQUIRE_OK(src);
        const ModelDescription& d = src->description();
        CHECK_EQ(std::string(model_format_name(d.format)), std::string("tokenizer"));
        CHECK(!d.has_weights);
        CHECK(!d.hparams.has_value());
        CHECK(src->tensors().empty());
        CHECK(src->find_tensor("model.embed_tokens.weight") == nullptr);
        CHECK_EQ(d.params.total, uint64_t{0});
        CHECK(d.tensor_types.empty());
        CHECK(d.warnings.empty());
        check_tokenizer(d, c.with_config);
    }
}

MOE_TEST(mtp_tensor_names) {
    CHECK(is_hf_mtp_tensor("model.layers.61.eh_proj.weight", 61));
    CHECK(is_hf_mtp_tensor("model.layers.62.mlp.experts.0.up_proj.weight_scale_inv", 61));
    CHECK(!is_hf_mtp_tensor("model.layers.60.mlp.gate.weight", 61));
    CHECK(!is_hf_mtp_tensor("model.layers.61", 61));        // no '.' after the number
    CHECK(!is_hf_mtp_tensor("model.layers.61x.weight", 61));
    CHECK(!is_hf_mtp_tensor("model.layers..weight", 61));
    CHECK(!is_hf_mtp_tensor("model.norm.weight", 61));
    CHECK(!is_hf_mtp_tensor("blk.61.attn_norm.weight", 61));  // GGUF names never are
}
