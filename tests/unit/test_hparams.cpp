// HParams from GGUF metadata: every fixture model against the hyper-parameter table of
// shared/fixtures/README.md section 2 (and the kq_scale values of section 4), vocab-only files, layout
// detection, and the errors a bad file must give.
#include "check.h"
#include "hparams_test_gguf.h"

#include "formats/gguf.h"
#include "model/hparams.h"
#include "model/model_stats.h"
#include "model/tensor_layout.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace moe;
using hparams_test::GgufBytes;

namespace {

struct FixtureRow {
    const char* file;
    Arch arch;
    int64_t n_layer, n_embd, n_head;
    int64_t nope, rope, v_head, q_lora, kv_lora;  // deepseek v1: nope = 0, v_head = head_dim
    int64_t lead_dense, n_ff;
    int64_t n_expert, n_used, n_shared, n_ff_exp;
    Gating gating;
    bool norm;
    double scale;
    RopeScaling scaling;
    double yarn_log_mul;
    int64_t n_ctx;
    double kq_scale;
    double params_m;  // README "params" column, millions
};

// fixtures/README.md section 2. kq_scale = m^2/sqrt(nope+rope), m = 1 + log_mul*ln 40 (section 4); the
// v3q model has d_k = 32+32 = 64, so its scale is 1.87385/8 (0.331254 is the d_k = 32 value of fx-ds2-v3).
const FixtureRow kFixtures[] = {
    {"fx-ds2-lite-f32.gguf", Arch::Deepseek2, 27, 64, 4, 16, 16, 16, 0, 32, 1, 128, 16, 4, 2, 32, Gating::Softmax,
     false, 1.0, RopeScaling::Yarn, 0.0707, 163840, 0.281009, 3.522},
    {"fx-ds2-lite-q8_0.gguf", Arch::Deepseek2, 27, 64, 4, 16, 16, 16, 0, 32, 1, 128, 16, 4, 2, 32, Gating::Softmax,
     false, 1.0, RopeScaling::Yarn, 0.0707, 163840, 0.281009, 3.522},
    {"fx-ds2-v3-f32.gguf", Arch::Deepseek2, 4, 64, 4, 16, 16, 16, 64, 32, 1, 128, 16, 4, 1, 32, Gating::Sigmoid, true,
     2.5, RopeScaling::Yarn, 0.1, 163840, 0.331254, 0.502},
    {"fx-ds2-v3-q8_0.gguf", Arch::Deepseek2, 4, 64, 4, 16, 16, 16, 64, 32, 1, 128, 16, 4, 1, 32, Gating::Sigmoid, true,
     2.5, RopeScaling::Yarn, 0.1, 163840, 0.331254, 0.502},
    {"fx-ds2-v3q-q4_k_m.gguf", Arch::Deepseek2, 3, 256, 4, 32, 32, 64, 64, 32, 1, 512, 8, 4, 1, 256, Gating::Sigmoid,
     true, 2.5, RopeScaling::Yarn, 0.1, 163840, 0.234232, 4.582},
    {"fx-ds1-f32.gguf", Arch::Deepseek, 4, 64, 4, 0, 16, 16, 0, 0, 1, 128, 16, 4, 2, 32, Gating::Softmax, false, 1.0,
     RopeScaling::None, 0.0, 4096, 0.25, 0.491},
    {"fx-ds1-q8_0.gguf", Arch::Deepseek, 4, 64, 4, 0, 16, 16, 0, 0, 1, 128, 16, 4, 2, 32, Gating::Softmax, false, 1.0,
     RopeScaling::None, 0.0, 4096, 0.25, 0.491},
};

void check_fixture_tensors(const FixtureRow& row, const HParams& hp, const GgufFile& file);

void check_fixture_row(const FixtureRow& row, const GgufFile& file) {
    auto hp_r = hparams_from_gguf(file);
    REQUIRE_OK(hp_r);
    const HParams& hp = *hp_r;
    CHECK(hp.arch == row.arch);
    CHECK_EQ(hp.n_vocab, 514);
    CHECK_EQ(hp.n_layer, row.n_layer);
    CHECK_EQ(hp.n_embd, row.n_embd);
    CHECK_EQ(hp.n_head, row.n_head);
    CHECK_EQ(hp.n_head_kv, row.n_head);  // README: head_count_kv = head_count
    CHECK_EQ(hp.n_rot, row.rope);
    CHECK_EQ(hp.n_embd_head_v(), row.v_head);
    if (row.arch == Arch::Deepseek2) {
        CHECK(hp.layout == WeightLayout::GgufLegacyMla);
        CHECK_EQ(hp.qk_nope_head_dim, row.nope);
        CHECK_EQ(hp.qk_rope_head_dim, row.rope);
        CHECK_EQ(hp.v_head_dim, row.v_head);
        CHECK_EQ(hp.q_lora_rank, row.q_lora);
        CHECK_EQ(hp.kv_lora_rank, row.kv_lora);
        CHECK_EQ(hp.has_expert_bias, row.gating == Gating::Sigmoid);
    } else {
        CHECK(hp.layout == WeightLayout::Gguf);
        CHECK_EQ(hp.head_dim, 16);
        CHECK_EQ(hp.has_expert_bias, false);
    }
    CHECK_EQ(hp.n_leading_dense, row.lead_dense);
    CHECK_EQ(hp.n_ff, row.n_ff);
    CHECK_EQ(hp.n_expert, row.n_expert);
    CHECK_EQ(hp.n_expert_used, row.n_used);
    CHECK_EQ(hp.n_expert_shared, row.n_shared);
    CHECK_EQ(hp.n_ff_exp, row.n_ff_exp);
    CHECK(hp.gating == row.gating);
    CHECK_EQ(hp.expert_weights_norm, row.norm);
    CHECK_NEAR(hp.expert_weights_scale, row.scale, 1e-6);
    CHECK(hp.rope_scaling == row.scaling);
    if (row.scaling == RopeScaling::Yarn) {
        CHECK_NEAR(hp.rope_factor, 40.0, 1e-6);
        CHECK_EQ(hp.rope_original_ctx, 4096);
        CHECK_NEAR(0.1 * hp.yarn_mscale_all_dim, row.yarn_log_mul, 1e-6);
    }
    CHECK_EQ(hp.n_ctx_train, row.n_ctx);
    CHECK_NEAR(hp.rms_eps, 1e-6, 1e-12);
    CHECK_NEAR(hp.rope_freq_base, 10000.0, 1e-9);
    CHECK(hp.rope_interleaved);
    CHECK_NEAR(hp.kq_scale(), row.kq_scale, 5e-7);
    CHECK_EQ(hp.n_moe_layers(), row.n_layer - row.lead_dense);
    check_fixture_tensors(row, hp, file);
}

// Parameters from the hyper-parameters, from the tensor table, and the README figure; the tensor table
// matches the expected list exactly.
void check_fixture_tensors(const FixtureRow& row, const HParams& hp, const GgufFile& file) {
    const std::vector<TensorShapeRef> shapes = tensor_shapes(file);
    const ParamCounts counts = count_params(hp);
    CHECK_EQ(counts.total, count_params(shapes, &hp));
    CHECK_NEAR(static_cast<double>(counts.total) / 1e6, row.params_m, 0.0005);
    CHECK(counts.active < counts.total);

    std::vector<std::string> warnings;
    const Status valid = validate_tensor_shapes(hp, hp.layout, shapes, file.path(), &warnings);
    CHECK(valid.ok());
    if (!valid.ok()) std::fprintf(stderr, "  %s\n", valid.message().c_str());
    CHECK(warnings.empty());
    CHECK_EQ(expected_tensors(hp, hp.layout).size(), shapes.size());
}

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Offset of the first occurrence of `needle` in `bytes`, or npos.
size_t find_bytes(const std::vector<uint8_t>& bytes, const std::string& needle) {
    const std::string_view hay(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return hay.find(needle);
}

std::string gguf_string(const std::string& s) {
    std::string out(8, '\0');
    const uint64_t n = s.size();
    std::memcpy(out.data(), &n, 8);
    return out + s;
}

Result<HParams> parse_bytes(const std::vector<uint8_t>& bytes, const std::string& name) {
    auto file = GgufFile::parse(bytes.data(), bytes.size(), name);
    if (!file) return file.status();
    return hparams_from_gguf(*file);
}

bool contains(const std::string& haystack, const std::string& needle) {
    const bool found = haystack.find(needle) != std::string::npos;
    if (!found) std::fprintf(stderr, "  message: %s\n  lacks: %s\n", haystack.c_str(), needle.c_str());
    return found;
}

// Metadata of a small deepseek2 model in the split MLA layout (newer llama.cpp converters).
GgufBytes split_mla_metadata() {
    GgufBytes g;
    g.str("general.architecture", "deepseek2");
    g.u32("deepseek2.block_count", 2);
    g.u32("deepseek2.context_length", 163840);
    g.u32("deepseek2.embedding_length", 64);
    g.u32("deepseek2.feed_forward_length", 128);
    g.u32("deepseek2.attention.head_count", 4);
    g.u32("deepseek2.attention.head_count_kv", 1);
    g.f32("deepseek2.attention.layer_norm_rms_epsilon", 1e-6f);
    g.u32("deepseek2.vocab_size", 514);
    g.u32("deepseek2.expert_count", 8);
    g.u32("deepseek2.expert_used_count", 2);
    g.u32("deepseek2.leading_dense_block_count", 1);
    g.u32("deepseek2.expert_feed_forward_length", 32);
    g.u32("deepseek2.expert_shared_count", 1);
    g.f32("deepseek2.expert_weights_scale", 2.5f);
    g.boolean("deepseek2.expert_weights_norm", true);
    g.u32("deepseek2.expert_gating_func", 2);
    g.u32("deepseek2.attention.q_lora_rank", 64);
    g.u32("deepseek2.attention.kv_lora_rank", 32);
    g.u32("deepseek2.attention.key_length", 48);  // kv_lora + rope
    g.u32("deepseek2.attention.value_length", 32);
    g.u32("deepseek2.attention.key_length_mla", 32);  // nope + rope
    g.u32("deepseek2.attention.value_length_mla", 16);
    g.u32("deepseek2.rope.dimension_count", 16);
    g.str("deepseek2.rope.scaling.type", "yarn");
    g.f32("deepseek2.rope.scaling.factor", 40.0f);
    g.u32("deepseek2.rope.scaling.original_context_length", 4096);
    g.f32("deepseek2.rope.scaling.yarn_log_multiplier", 0.1f);
    return g;
}

}  // namespace

MOE_TEST(fixture_models_match_readme_table) {
    int n_found = 0;
    for (const FixtureRow& row : kFixtures) {
        const std::string path = moe_test::shared_fixture(std::string("models/") + row.file);
        if (path.empty()) continue;
        ++n_found;
        auto file = GgufFile::open(path);
        REQUIRE_OK(file);
        check_fixture_row(row, *file);
    }
    if (n_found == 0) MOE_SKIP("shared fixture models absent");
}

// The two smallest fixtures are copied into tests/data so these checks run without /work/shared.
MOE_TEST(in_tree_fixture_copies) {
    for (const FixtureRow& row : kFixtures) {
        const std::string name = row.file;
        if (name != "fx-ds2-v3-q8_0.gguf" && name != "fx-ds1-q8_0.gguf") continue;
        const std::string path = moe_test::data_path("models/" + name);
        REQUIRE(!path.empty());
        auto file = GgufFile::open(path);
        REQUIRE_OK(file);
        check_fixture_row(row, *file);
    }
}

MOE_TEST(vocab_only_ggufs_are_recognised) {
    int n_found = 0;
    for (const char* name : {"vocab/ggml-vocab-deepseek-llm.gguf", "vocab/ggml-vocab-deepseek-coder.gguf"}) {
        const std::string path = moe_test::shared_fixture(name);
        if (path.empty()) continue;
        ++n_found;
        auto file = GgufFile::open(path);
        REQUIRE_OK(file);
        CHECK(is_vocab_only(*file));
        // Their llama keys are complete, so the hyper-parameters still parse; weights are absent.
        auto hp = hparams_from_gguf(*file);
        REQUIRE_OK(hp);
        CHECK(hp->arch == Arch::Llama);
        CHECK_EQ(hp->n_embd, 4096);
        CHECK_EQ(hp->head_dim, 128);
        CHECK(hp->n_vocab == 102400 || hp->n_vocab == 32256);
        const Status v = validate_tensor_shapes(*hp, hp->layout, tensor_shapes(*file), path);
        CHECK(!v.ok());
        CHECK(contains(v.message(), "token_embd.weight': missing"));
    }
    if (n_found == 0) MOE_SKIP("shared vocab fixtures absent");
}

MOE_TEST(vocab_only_with_incomplete_keys_says_so) {
    GgufBytes g;
    g.str("general.architecture", "llama");
    g.str("tokenizer.ggml.model", "gpt2");
    const std::vector<uint8_t> bytes = g.bytes();
    auto file = GgufFile::parse(bytes.data(), bytes.size(), "vocab.gguf");
    REQUIRE_OK(file);
    CHECK(is_vocab_only(*file));
    auto hp = hparams_from_gguf(*file);
    REQUIRE(!hp.ok());
    CHECK(contains(hp.error(), "vocab.gguf: no model weights (vocab-only GGUF"));
    CHECK(contains(hp.error(), "llama.block_count"));
}

MOE_TEST(unknown_architecture_is_named) {
    GgufBytes g;
    g.str("general.architecture", "qwen3moe");
    g.u32("qwen3moe.block_count", 2);
    g.tensor("token_embd.weight", {8, 4});
    auto hp = parse_bytes(g.bytes(), "q.gguf");
    REQUIRE(!hp.ok());
    CHECK_EQ(hp.error(), std::string("q.gguf: architecture 'qwen3moe' is not supported (supported: deepseek, "
                                     "deepseek2, llama)"));
}

MOE_TEST(unknown_architecture_in_patched_fixture) {
    const std::string path = moe_test::data_path("models/fx-ds1-q8_0.gguf");
    REQUIRE(!path.empty());
    std::vector<uint8_t> bytes = read_bytes(path);
    const size_t at = find_bytes(bytes, gguf_string("deepseek"));  // general.architecture's value
    REQUIRE(at != std::string::npos);
    std::memcpy(bytes.data() + at + 8, "qwen3moe", 8);
    auto hp = parse_bytes(bytes, "fx.gguf");
    REQUIRE(!hp.ok());
    CHECK(contains(hp.error(), "fx.gguf: architecture 'qwen3moe' is not supported"));
}

MOE_TEST(missing_key_names_file_and_key) {
    const std::string path = moe_test::data_path("models/fx-ds2-v3-q8_0.gguf");
    REQUIRE(!path.empty());
    std::vector<uint8_t> bytes = read_bytes(path);
    const size_t at = find_bytes(bytes, gguf_string("deepseek2.expert_feed_forward_length"));
    REQUIRE(at != std::string::npos);
    bytes[at + 8 + 10] = 'X';  // "deepseek2.Xxpert_feed_forward_length": the real key is gone
    auto hp = parse_bytes(bytes, "fx.gguf");
    REQUIRE(!hp.ok());
    CHECK_EQ(hp.error(), std::string("fx.gguf: key 'deepseek2.expert_feed_forward_length': missing"));
}

MOE_TEST(wrong_key_type_is_refused) {
    const std::string path = moe_test::data_path("models/fx-ds2-v3-q8_0.gguf");
    REQUIRE(!path.empty());
    std::vector<uint8_t> bytes = read_bytes(path);
    const std::string key = gguf_string("deepseek2.expert_count");
    const size_t at = find_bytes(bytes, key);
    REQUIRE(at != std::string::npos);
    const uint32_t f32_type = 6;  // was u32 (4): same payload size, so the file still parses
    std::memcpy(bytes.data() + at + key.size(), &f32_type, 4);
    auto hp = parse_bytes(bytes, "fx.gguf");
    REQUIRE(!hp.ok());
    CHECK(contains(hp.error(), "fx.gguf: key 'deepseek2.expert_count': expected an integer, found f32"));

    // An optional key with the wrong type is an error too, not a silent default.
    GgufBytes g = split_mla_metadata();
    g.str("deepseek2.expert_weights_norm", "yes");
    auto hp2 = parse_bytes(g.bytes(), "s.gguf");
    REQUIRE(!hp2.ok());
    CHECK(contains(hp2.error(), "s.gguf: key 'deepseek2.expert_weights_norm'"));
}

MOE_TEST(split_mla_layout_detected_from_keys) {
    auto hp = parse_bytes(split_mla_metadata().bytes(), "split.gguf");
    REQUIRE_OK(hp);
    CHECK(hp->layout == WeightLayout::GgufSplitMla);
    CHECK_EQ(hp->qk_nope_head_dim, 16);
    CHECK_EQ(hp->qk_rope_head_dim, 16);
    CHECK_EQ(hp->v_head_dim, 16);
    CHECK_EQ(hp->kv_lora_rank, 32);
    CHECK_EQ(hp->n_head_kv, 4);
    CHECK(hp->gating == Gating::Sigmoid);
    CHECK(hp->has_expert_bias);  // no tensors: sigmoid gating implies the selection bias
    CHECK_NEAR(hp->kq_scale(), 0.331254, 5e-7);

    const std::vector<ExpectedTensor> expected = expected_tensors(*hp, hp->layout);
    bool saw_k_b = false;
    bool saw_v_b = false;
    for (const ExpectedTensor& t : expected) {
        if (t.name == "blk.1.attn_k_b.weight") saw_k_b = t.shape == std::vector<int64_t>{16, 32, 4};
        if (t.name == "blk.1.attn_v_b.weight") saw_v_b = t.shape == std::vector<int64_t>{32, 16, 4};
        if (t.name == "blk.1.attn_kv_b.weight") CHECK(!t.required);
    }
    CHECK(saw_k_b);
    CHECK(saw_v_b);
    // Same parameter count as the unsplit layout: k_b + v_b hold exactly kv_b's elements.
    std::vector<TensorShapeRef> present;
    for (const ExpectedTensor& t : expected)
        if (t.required) present.push_back({t.name, t.shape});
    CHECK_EQ(count_params(present, &*hp), count_params(*hp).total);
    CHECK(validate_tensor_shapes(*hp, hp->layout, present, "split.gguf").ok());
}

MOE_TEST(split_mla_inconsistent_keys_are_refused) {
    GgufBytes tensors_only;  // attn_k_b tensors but no key_length_mla: the head sizes cannot be known
    tensors_only.str("general.architecture", "deepseek2");
    for (const char* k : {"block_count", "embedding_length", "feed_forward_length", "attention.head_count"})
        tensors_only.u32(std::string("deepseek2.") + k, std::string(k) == "block_count" ? 1 : 64);
    tensors_only.u32("deepseek2.context_length", 4096);
    tensors_only.f32("deepseek2.attention.layer_norm_rms_epsilon", 1e-6f);
    tensors_only.u32("deepseek2.vocab_size", 16);
    tensors_only.u32("deepseek2.leading_dense_block_count", 1);
    tensors_only.u32("deepseek2.attention.kv_lora_rank", 32);
    tensors_only.u32("deepseek2.expert_feed_forward_length", 0);
    tensors_only.u32("deepseek2.expert_shared_count", 0);
    tensors_only.f32("deepseek2.expert_weights_scale", 1.0f);
    tensors_only.tensor("blk.0.attn_k_b.weight", {16, 32, 64});
    auto hp2 = parse_bytes(tensors_only.bytes(), "kb.gguf");
    REQUIRE(!hp2.ok());
    CHECK(contains(hp2.error(), "kb.gguf: key 'deepseek2.attention.key_length_mla': missing, but the file has attn_k_b"));
}

MOE_TEST(llama_gguf_defaults_and_moe) {
    GgufBytes g;
    g.str("general.architecture", "llama");
    g.u32("llama.block_count", 2);
    g.u32("llama.context_length", 4096);
    g.u32("llama.embedding_length", 64);
    g.u32("llama.feed_forward_length", 96);
    g.u32("llama.attention.head_count", 8);
    g.u32("llama.attention.head_count_kv", 2);
    g.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    g.u32("llama.vocab_size", 32);
    g.u32("llama.expert_count", 4);
    g.u32("llama.expert_used_count", 2);
    g.tensor("token_embd.weight", {64, 32});  // no output.weight: tied embeddings
    auto hp = parse_bytes(g.bytes(), "mixtral.gguf");
    REQUIRE_OK(hp);
    CHECK(hp->arch == Arch::Llama);
    CHECK_EQ(hp->head_dim, 8);   // n_embd / n_head
    CHECK_EQ(hp->n_rot, 8);      // defaults to the head size
    CHECK_EQ(hp->n_head_kv, 2);
    CHECK_EQ(hp->n_ff_exp, 96);  // Mixtral-style experts are as wide as the dense FFN
    CHECK(hp->expert_weights_norm);
    CHECK(hp->tie_embeddings);
    CHECK(hp->rope_scaling == RopeScaling::None);
    CHECK_NEAR(hp->kq_scale(), 1.0 / std::sqrt(8.0), 1e-12);
    CHECK(hp->is_moe_layer(0) && hp->is_moe_layer(1));
    // attn_k is {n_embd, n_head_kv*head_dim} = {64, 16} (GQA).
    for (const ExpectedTensor& t : expected_tensors(*hp, hp->layout)) {
        if (t.name == "blk.0.attn_k.weight") CHECK(t.shape == std::vector<int64_t>({64, 16}));
        if (t.name == "output.weight") CHECK(!t.required);
        if (t.name == "blk.1.ffn_gate_exps.weight") CHECK(t.shape == std::vector<int64_t>({64, 96, 4}));
    }
}

MOE_TEST(bad_values_are_refused_with_field_names) {
    struct Case {
        const char* key;
        uint32_t value;
        const char* expect;
    };
    const Case cases[] = {
        {"deepseek2.expert_used_count", 9, "n_expert_used = 9 is out of range [1, 8]"},
        {"deepseek2.expert_gating_func", 7, "key 'deepseek2.expert_gating_func': 7, expected 1 (softmax) or 2"},
        {"deepseek2.embedding_length", 0, "n_embd = 0 is out of range"},
        {"deepseek2.rope.dimension_count", 8, "key 'deepseek2.attention.key_length': key/value_length 48/32, expected kv_lora_rank+rope"},
        {"deepseek2.attention.head_count_kv", 4, "head_count_kv': 4, expected 1 (MLA layout)"},
        {"deepseek2.expert_group_count", 3, "n_group = 3 does not divide n_expert = 8"},
        {"deepseek2.block_count", 100000, "n_layer = 100000 is out of range"},
    };
    for (const Case& c : cases) {
        GgufBytes g = split_mla_metadata();
        g.u32(c.key, c.value);
        auto hp = parse_bytes(g.bytes(), "bad.gguf");
        CHECK(!hp.ok());
        if (!hp.ok()) CHECK(contains(hp.error(), "bad.gguf: ") && contains(hp.error(), c.expect));
    }
    GgufBytes g = split_mla_metadata();
    g.str("deepseek2.rope.scaling.type", "longrope");
    auto hp = parse_bytes(g.bytes(), "bad.gguf");
    REQUIRE(!hp.ok());
    CHECK(contains(hp.error(), "key 'deepseek2.rope.scaling.type': 'longrope' is not supported"));
}

MOE_TEST(lite_detection_by_key_not_layer_count) {
    GgufBytes g = split_mla_metadata();
    g.remove("deepseek2.attention.q_lora_rank");
    g.u32("deepseek2.block_count", 3);  // b4747 would demand q_lora_rank here (n_layer != 27)
    auto hp = parse_bytes(g.bytes(), "lite.gguf");
    REQUIRE_OK(hp);
    CHECK_EQ(hp->q_lora_rank, 0);
    bool has_attn_q = false;
    for (const ExpectedTensor& t : expected_tensors(*hp, hp->layout)) has_attn_q |= t.name == "blk.0.attn_q.weight";
    CHECK(has_attn_q);
    // V2 files without expert_gating_func mean softmax; without expert_weights_norm, no renormalisation.
    g.remove("deepseek2.expert_gating_func");
    g.remove("deepseek2.expert_weights_norm");
    auto hp2 = parse_bytes(g.bytes(), "v2.gguf");
    REQUIRE_OK(hp2);
    CHECK(hp2->gating == Gating::Softmax);
    CHECK(!hp2->expert_weights_norm);
    CHECK(!hp2->has_expert_bias);
}

MOE_TEST(gguf_shape_mismatch_missing_and_extra_tensors) {
    const std::string path = moe_test::data_path("models/fx-ds2-v3-q8_0.gguf");
    REQUIRE(!path.empty());
    auto file = GgufFile::open(path);
    REQUIRE_OK(file);
    auto hp = hparams_from_gguf(*file);
    REQUIRE_OK(hp);
    std::vector<TensorShapeRef> shapes = tensor_shapes(*file);
    for (TensorShapeRef& t : shapes)
        if (t.name == "blk.3.ffn_up_exps.weight") t.shape = {64, 32, 15};
    Status s = validate_tensor_shapes(*hp, hp->layout, shapes, "fx.gguf");
    REQUIRE(!s.ok());
    CHECK_EQ(s.message(), std::string("fx.gguf: tensor 'blk.3.ffn_up_exps.weight': shape [64, 32, 15] disagrees with "
                                      "the hyper-parameters (expected [64, 32, 16] = [n_embd=64, n_ff_exp=32, "
                                      "n_expert=16])"));

    shapes = tensor_shapes(*file);
    std::vector<TensorShapeRef> pruned;
    for (const TensorShapeRef& t : shapes)
        if (t.name != "blk.2.attn_kv_b.weight") pruned.push_back(t);
    pruned.push_back({"blk.2.attn_extra.weight", {64, 8, 1}});
    std::vector<std::string> warnings;
    s = validate_tensor_shapes(*hp, hp->layout, pruned, "fx.gguf", &warnings);
    REQUIRE(!s.ok());
    CHECK_EQ(s.message(), std::string("fx.gguf: tensor 'blk.2.attn_kv_b.weight': missing (expected shape [32, 128] = "
                                      "[kv_lora_rank=32, n_head*(qk_nope+v_head)=128])"));
    REQUIRE(warnings.size() == 1u);
    CHECK(contains(warnings[0], "fx.gguf: tensor 'blk.2.attn_extra.weight' [64, 8, 1] is not used by deepseek2"));

    // ggml pads ne with 1: a 1-D norm written as {64, 1} is the same tensor.
    shapes = tensor_shapes(*file);
    for (TensorShapeRef& t : shapes)
        if (t.name == "output_norm.weight") t.shape = {64, 1};
    CHECK(validate_tensor_shapes(*hp, hp->layout, shapes, "fx.gguf").ok());
}

MOE_TEST(moe_layer_pattern) {
    HParams hp;
    hp.n_layer = 6;
    hp.n_expert = 4;
    hp.n_leading_dense = 1;
    hp.moe_layer_freq = 2;
    const bool expect[] = {false, false, true, false, true, false};
    for (int il = 0; il < 6; ++il) CHECK_EQ(hp.is_moe_layer(il), expect[il]);
    CHECK_EQ(hp.n_moe_layers(), 2);
    hp.n_expert = 0;
    CHECK(!hp.is_moe_layer(2));
}
