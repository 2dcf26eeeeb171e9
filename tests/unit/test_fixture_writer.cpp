// make-fixture models: every architecture and layout opens with ModelSource and matches its spec; output is
// deterministic; the f32 GGUF, the split-MLA GGUF, the HF folder and the quantized files all hold the same
// values (checked here with mappings written independently of the writer); the tokenizer round-trips; the
// writers' streaming API.
#include "check.h"

#include "formats/gguf.h"
#include "formats/quants.h"
#include "formats/safetensors.h"
#include "model/fixture_writer.h"
#include "model/model_source.h"
#include "model/model_stats.h"
#include "tokenizer/tokenizer.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace {

using moe::Arch;
using moe::FixtureFormat;
using moe::FixtureSpec;
using moe::GgmlType;
using moe::MlaLayout;

FixtureSpec tiny(Arch arch, GgmlType type = GgmlType::F32, FixtureFormat format = FixtureFormat::Gguf,
                 MlaLayout mla = MlaLayout::Legacy, uint64_t seed = 7) {
    FixtureSpec s = moe::fixture_preset(arch, "tiny").value();
    s.type = type;
    s.format = format;
    s.mla_layout = mla;
    s.seed = seed;
    s.n_threads = 2;
    return s;
}

std::string out_path(const std::string& name) { return moe_test::temp_dir() + "/" + name; }

moe::ModelSource write_and_open(const FixtureSpec& s, const std::string& name) {
    const std::string path = out_path(name);
    auto r = moe::write_fixture(s, path);
    REQUIRE_OK(r);
    auto src = moe::ModelSource::open(path);
    REQUIRE_OK(src);
    return std::move(*src);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<float> values_of(const moe::WeightTensor& t) {
    int64_t n = 1;
    for (int64_t d : t.ne) n *= d;
    std::vector<float> out(static_cast<size_t>(n));
    REQUIRE_OK(moe::dequantize_row(t.type, t.data, out.data(), n));
    return out;
}

const moe::WeightTensor& tensor(const moe::ModelSource& src, const std::string& name) {
    const moe::WeightTensor* t = src.find_tensor(name);
    if (t == nullptr) {
        moe_test::report_failure(__FILE__, __LINE__, "missing tensor " + name);
        throw moe_test::AbortTest{};
    }
    return *t;
}

void check_hparams(const moe::HParams& got, const moe::HParams& want) {
    CHECK_EQ(static_cast<int>(got.arch), static_cast<int>(want.arch));
    CHECK_EQ(static_cast<int>(got.layout), static_cast<int>(want.layout));
    CHECK_EQ(got.source_arch, want.source_arch);
    CHECK_EQ(got.n_vocab, want.n_vocab);
    CHECK_EQ(got.n_embd, want.n_embd);
    CHECK_EQ(got.n_layer, want.n_layer);
    CHECK_EQ(got.n_head, want.n_head);
    CHECK_EQ(got.n_head_kv, want.n_head_kv);
    CHECK_EQ(got.head_dim, want.head_dim);
    CHECK_EQ(got.n_ff, want.n_ff);
    CHECK_EQ(got.n_ctx_train, want.n_ctx_train);
    CHECK_NEAR(got.rms_eps, want.rms_eps, 1e-9);
    CHECK_EQ(got.n_expert, want.n_expert);
    CHECK_EQ(got.n_expert_used, want.n_expert_used);
    CHECK_EQ(got.n_expert_shared, want.n_expert_shared);
    CHECK_EQ(got.n_ff_exp, want.n_ff_exp);
    CHECK_EQ(got.n_leading_dense, want.n_leading_dense);
    CHECK_EQ(static_cast<int>(got.gating), static_cast<int>(want.gating));
    CHECK_EQ(got.expert_weights_norm, want.expert_weights_norm);
    CHECK_NEAR(got.expert_weights_scale, want.expert_weights_scale, 1e-6);
    CHECK_EQ(got.has_expert_bias, want.has_expert_bias);
    CHECK_EQ(got.n_group, want.n_group);
    CHECK_EQ(got.n_group_used, want.n_group_used);
    CHECK_EQ(got.topk_method, want.topk_method);
    CHECK_EQ(got.q_lora_rank, want.q_lora_rank);
    CHECK_EQ(got.kv_lora_rank, want.kv_lora_rank);
    CHECK_EQ(got.qk_nope_head_dim, want.qk_nope_head_dim);
    CHECK_EQ(got.qk_rope_head_dim, want.qk_rope_head_dim);
    CHECK_EQ(got.v_head_dim, want.v_head_dim);
    CHECK_EQ(got.n_rot, want.n_rot);
    CHECK_NEAR(got.rope_freq_base, want.rope_freq_base, 1e-6);
    CHECK_EQ(static_cast<int>(got.rope_scaling), static_cast<int>(want.rope_scaling));
    CHECK_NEAR(got.rope_factor, want.rope_factor, 1e-6);
    if (want.rope_scaling == moe::RopeScaling::Yarn) CHECK_EQ(got.rope_original_ctx, want.rope_original_ctx);
    CHECK_NEAR(got.yarn_mscale_all_dim, want.yarn_mscale_all_dim, 1e-6);
    CHECK_EQ(got.rope_interleaved, want.rope_interleaved);
    CHECK_EQ(got.tie_embeddings, false);
}

// Opens the written model and checks hyper-parameters, every tensor (name, ggml shape, type), tokenizer.
void check_model(const FixtureSpec& s, const std::string& name) {
    const moe::ModelSource src = write_and_open(s, name);
    const moe::ModelDescription& d = src.description();
    REQUIRE(d.hparams.has_value());
    const moe::WeightLayout layout = moe::fixture_layout(s);
    check_hparams(*d.hparams, moe::fixture_hparams(s, layout));
    CHECK(d.warnings.empty());
    size_t n_expected = 0;
    for (const moe::ExpectedTensor& e : moe::expected_tensors(*d.hparams, layout)) {
        if (!e.required) continue;
        ++n_expected;
        const moe::WeightTensor& t = tensor(src, e.name);
        std::vector<int64_t> ne = e.shape;
        if (layout == moe::WeightLayout::HuggingFace) ne.assign(e.shape.rbegin(), e.shape.rend());
        CHECK(t.ne == ne);
        moe::ExpectedTensor ggml_order = e;
        ggml_order.shape = ne;
        CHECK_EQ(static_cast<int>(t.type), static_cast<int>(moe::fixture_tensor_type(s, ggml_order)));
    }
    CHECK_EQ(src.tensors().size(), n_expected);
    CHECK_EQ(d.params.total, d.params_in_tensors);
    REQUIRE(src.vocab().has_value());
    CHECK_EQ(static_cast<int64_t>(src.vocab()->n_tokens()), s.n_vocab);
    CHECK(d.has_chat_template);
    CHECK(d.tokenizer.has_value() && d.tokenizer->add_bos);
}

}  // namespace

MOE_TEST(every_arch_layout_and_type_opens_and_matches_the_spec) {
    const GgmlType gguf_types[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_K};
    const GgmlType hf_types[] = {GgmlType::F32, GgmlType::BF16, GgmlType::F16};
    int n = 0;
    for (Arch arch : {Arch::Deepseek2, Arch::Deepseek, Arch::Llama}) {
        for (GgmlType t : gguf_types) {
            check_model(tiny(arch, t), "m" + std::to_string(n++) + ".gguf");
            if (arch == Arch::Deepseek2)
                check_model(tiny(arch, t, FixtureFormat::Gguf, MlaLayout::Split), "m" + std::to_string(n++) + ".gguf");
        }
        for (GgmlType t : hf_types) check_model(tiny(arch, t, FixtureFormat::Safetensors), "hf" + std::to_string(n++));
    }
}

MOE_TEST(size_options_and_other_presets_shapes) {
    FixtureSpec s = tiny(Arch::Deepseek2);
    s.q_lora_rank = 0;  // V2-Lite style attention, softmax routing, groups
    s.gating = moe::Gating::Softmax;
    s.expert_bias = false;
    s.expert_weights_norm = false;
    s.expert_weights_scale = 1.0;
    s.n_group = 4;
    s.n_group_used = 2;
    s.n_layer = 3;
    s.n_vocab = 300;
    check_model(s, "lite.gguf");
    s.format = FixtureFormat::Safetensors;
    check_model(s, "lite-hf");
    FixtureSpec v3 = moe::fixture_preset(Arch::Deepseek2, "v3").value();
    v3.n_layer = 4;  // keep the test fast: 3 dense + 1 MoE
    v3.type = GgmlType::Q4_K;
    check_model(v3, "v3.gguf");
}

MOE_TEST(preset_parameter_counts) {
    const auto count = [](const char* preset) {
        const FixtureSpec s = moe::fixture_preset(Arch::Deepseek2, preset).value();
        REQUIRE_OK(moe::validate_fixture_spec(s));
        uint64_t n = 0;
        const moe::HParams hp = moe::fixture_hparams(s, moe::WeightLayout::GgufLegacyMla);
        for (const moe::ExpectedTensor& e : moe::expected_tensors(hp, hp.layout)) {
            uint64_t k = 1;
            for (int64_t d : e.shape) k *= static_cast<uint64_t>(d);
            if (e.required) n += k;
        }
        CHECK_EQ(n, moe::count_params(hp).total);
        return n;
    };
    CHECK_EQ(count("tiny"), uint64_t{501744});
    CHECK_EQ(count("medium"), uint64_t{807091072});
    CHECK_EQ(count("v2-lite"), uint64_t{15706484224});
    CHECK_EQ(count("v3"), uint64_t{45061824});
    CHECK(!moe::fixture_preset(Arch::Llama, "v3").ok());
    CHECK(!moe::fixture_preset(Arch::Deepseek2, "huge").ok());
}

MOE_TEST(progress_reaches_the_total_and_notes_name_reader_limits) {
    uint64_t last_done = 0, last_total = 0, calls = 0;
    auto r = moe::write_fixture(tiny(Arch::Deepseek), out_path("progress.gguf"), [&](uint64_t done, uint64_t total) {
        CHECK(done > last_done);
        last_done = done;
        last_total = total;
        ++calls;
    });
    REQUIRE_OK(r);
    CHECK(calls > 10);
    CHECK_EQ(last_done, last_total);
    CHECK(last_total < r->n_bytes);  // tensor data only; the file adds metadata
    CHECK(moe::fixture_compat_notes(tiny(Arch::Deepseek)).empty());
    CHECK(moe::fixture_compat_notes(moe::fixture_preset(Arch::Deepseek2, "v2-lite").value()).empty());
    CHECK(moe::fixture_compat_notes(tiny(Arch::Deepseek2)).empty());  // q_lora and not 27 layers: b4747 agrees
    FixtureSpec no_q_lora = tiny(Arch::Deepseek2);
    no_q_lora.q_lora_rank = 0;  // b4747 would look for attn_q_a in a 4-layer model
    CHECK_EQ(moe::fixture_compat_notes(no_q_lora).size(), size_t{1});
    no_q_lora.mla_layout = MlaLayout::Split;
    CHECK_EQ(moe::fixture_compat_notes(no_q_lora).size(), size_t{2});
}

MOE_TEST(bad_specs_are_refused_with_the_option_named) {
    FixtureSpec s = tiny(Arch::Deepseek2, GgmlType::Q8_0, FixtureFormat::Safetensors);
    moe::Status st = moe::validate_fixture_spec(s);
    CHECK(!st.ok() && st.message().find("safetensors") != std::string::npos);
    s = tiny(Arch::Deepseek2);
    s.n_expert_used = 17;
    st = moe::validate_fixture_spec(s);
    CHECK(!st.ok() && st.message().find("--experts-used 17") != std::string::npos);
    s = tiny(Arch::Deepseek);
    s.gating = moe::Gating::Sigmoid;
    CHECK(!moe::validate_fixture_spec(s).ok());
    s = tiny(Arch::Llama);
    s.n_head_kv = 3;
    CHECK(!moe::validate_fixture_spec(s).ok());
    s = tiny(Arch::Deepseek2);
    s.n_vocab = 100;
    auto r = moe::write_fixture(s, out_path("small-vocab.gguf"));
    CHECK(!r.ok() && r.error().find("--vocab 100") != std::string::npos);
}

MOE_TEST(same_seed_same_bytes_other_seed_other_bytes_any_thread_count) {
    for (FixtureFormat format : {FixtureFormat::Gguf, FixtureFormat::Safetensors}) {
        const bool gguf = format == FixtureFormat::Gguf;
        const auto file = [&](const std::string& p) { return gguf ? p : p + "/model.safetensors"; };
        FixtureSpec s = tiny(Arch::Deepseek2, GgmlType::BF16, format);
        const std::string a = out_path(gguf ? "det-a.gguf" : "det-a"), b = out_path(gguf ? "det-b.gguf" : "det-b");
        const std::string c = out_path(gguf ? "det-c.gguf" : "det-c");
        REQUIRE_OK(moe::write_fixture(s, a));
        s.n_threads = 7;
        REQUIRE_OK(moe::write_fixture(s, b));
        s.seed = 8;
        REQUIRE_OK(moe::write_fixture(s, c));
        CHECK(read_bytes(file(a)) == read_bytes(file(b)));
        CHECK(read_bytes(file(a)) != read_bytes(file(c)));
        CHECK_EQ(read_bytes(file(a)).size(), read_bytes(file(c)).size());
    }
}

namespace {

// HF module name -> GGUF name, written here independently of the writer's table.
std::string gguf_name_of(const std::string& hf, int64_t& expert) {
    expert = -1;
    if (hf == "model.embed_tokens.weight") return "token_embd.weight";
    if (hf == "model.norm.weight") return "output_norm.weight";
    if (hf == "lm_head.weight") return "output.weight";
    const size_t dot = hf.find('.', 13);
    const std::string blk = "blk." + hf.substr(13, dot - 13) + ".";
    std::string rest = hf.substr(dot + 1);
    if (rest.rfind("mlp.experts.", 0) == 0) {
        const size_t e_end = rest.find('.', 12);
        expert = std::stoll(rest.substr(12, e_end - 12));
        const std::string proj = rest.substr(e_end + 1);
        const std::string kind = proj.rfind("gate", 0) == 0 ? "gate" : proj.rfind("up", 0) == 0 ? "up" : "down";
        return blk + "ffn_" + kind + "_exps.weight";
    }
    static const std::map<std::string, std::string> m = {
        {"input_layernorm.weight", "attn_norm.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"self_attn.q_proj.weight", "attn_q.weight"}, {"self_attn.k_proj.weight", "attn_k.weight"},
        {"self_attn.v_proj.weight", "attn_v.weight"}, {"self_attn.o_proj.weight", "attn_output.weight"},
        {"self_attn.q_a_proj.weight", "attn_q_a.weight"}, {"self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"},
        {"self_attn.q_b_proj.weight", "attn_q_b.weight"}, {"self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"},
        {"self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"}, {"self_attn.kv_b_proj.weight", "attn_kv_b.weight"},
        {"mlp.gate_proj.weight", "ffn_gate.weight"}, {"mlp.up_proj.weight", "ffn_up.weight"},
        {"mlp.down_proj.weight", "ffn_down.weight"}, {"mlp.gate.weight", "ffn_gate_inp.weight"},
        {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
        {"mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"},
        {"mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"},
        {"mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"}};
    const auto it = m.find(rest);
    return it == m.end() ? "" : blk + it->second;
}

// llama.cpp's converter: gguf = hf.reshape(n_head, 2, hd/2, in).swapaxes(1, 2).reshape(out, in).
std::vector<float> converter_permute(const std::vector<float>& hf, int64_t n_head, int64_t in) {
    const int64_t hd = static_cast<int64_t>(hf.size()) / in / n_head;
    std::vector<float> out(hf.size());
    for (int64_t h = 0; h < n_head; ++h)
        for (int64_t a = 0; a < 2; ++a)
            for (int64_t b = 0; b < hd / 2; ++b)
                std::memcpy(&out[static_cast<size_t>(((h * hd) + b * 2 + a) * in)],
                            &hf[static_cast<size_t>(((h * hd) + a * (hd / 2) + b) * in)], sizeof(float) * in);
    return out;
}

}  // namespace

MOE_TEST(gguf_and_hf_folder_hold_the_same_model) {
    for (Arch arch : {Arch::Deepseek2, Arch::Deepseek, Arch::Llama}) {
        const std::string tag = moe::arch_name(arch);
        const moe::ModelSource gguf = write_and_open(tiny(arch), "same-" + tag + ".gguf");
        const moe::ModelSource hf = write_and_open(tiny(arch, GgmlType::F32, FixtureFormat::Safetensors), "same-" + tag);
        const moe::HParams& hp = *hf.description().hparams;
        size_t n_checked = 0;
        for (const moe::WeightTensor& t : hf.tensors()) {
            int64_t expert = -1;
            const std::string name = gguf_name_of(t.name, expert);
            REQUIRE(!name.empty());
            std::vector<float> want = values_of(tensor(gguf, name));
            std::vector<float> got = values_of(t);
            if (expert >= 0) {
                const size_t n = got.size();
                want = std::vector<float>(want.begin() + static_cast<std::ptrdiff_t>(n * expert),
                                          want.begin() + static_cast<std::ptrdiff_t>(n * (expert + 1)));
            }
            const bool q = name.find(".attn_q.weight") != std::string::npos;
            const bool k = name.find(".attn_k.weight") != std::string::npos;
            if (arch != Arch::Deepseek2 && (q || k)) got = converter_permute(got, q ? hp.n_head : hp.n_head_kv, hp.n_embd);
            CHECK(got == want);
            ++n_checked;
        }
        const int64_t extra = hp.is_moe() ? 3 * (hp.n_expert - 1) * hp.n_moe_layers() : 0;
        CHECK_EQ(static_cast<int64_t>(n_checked), static_cast<int64_t>(gguf.tensors().size()) + extra);
    }
}

MOE_TEST(split_mla_tensors_are_the_legacy_kv_b) {
    const moe::ModelSource legacy = write_and_open(tiny(Arch::Deepseek2), "kvb-legacy.gguf");
    const moe::ModelSource split =
        write_and_open(tiny(Arch::Deepseek2, GgmlType::F32, FixtureFormat::Gguf, MlaLayout::Split), "kvb-split.gguf");
    const moe::HParams& hp = *legacy.description().hparams;
    const int64_t nope = hp.qk_nope_head_dim, v = hp.v_head_dim, r = hp.kv_lora_rank;
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        const std::string blk = "blk." + std::to_string(il) + ".";
        const std::vector<float> kv_b = values_of(tensor(legacy, blk + "attn_kv_b.weight"));  // {r, H*(nope+v)}
        const std::vector<float> k_b = values_of(tensor(split, blk + "attn_k_b.weight"));     // {nope, r, H}
        const std::vector<float> v_b = values_of(tensor(split, blk + "attn_v_b.weight"));     // {r, v, H}
        bool same = true;
        for (int64_t h = 0; h < hp.n_head; ++h) {
            for (int64_t c = 0; c < r; ++c) {
                for (int64_t n = 0; n < nope; ++n)
                    same &= k_b[static_cast<size_t>((h * r + c) * nope + n)] ==
                            kv_b[static_cast<size_t>((h * (nope + v) + n) * r + c)];
                for (int64_t j = 0; j < v; ++j)
                    same &= v_b[static_cast<size_t>((h * v + j) * r + c)] ==
                            kv_b[static_cast<size_t>((h * (nope + v) + nope + j) * r + c)];
            }
        }
        CHECK(same);
        CHECK(values_of(tensor(split, blk + "attn_output.weight")) == values_of(tensor(legacy, blk + "attn_output.weight")));
    }
}

MOE_TEST(quantized_files_are_the_f32_values_quantized) {
    for (Arch arch : {Arch::Deepseek2, Arch::Llama}) {
        const std::string tag = moe::arch_name(arch);
        const moe::ModelSource f32 = write_and_open(tiny(arch), "q-f32-" + tag + ".gguf");
        for (GgmlType type : {GgmlType::Q8_0, GgmlType::F16, GgmlType::BF16}) {
            const moe::ModelSource q = write_and_open(tiny(arch, type), std::string("q-") + moe::ggml_type_name(type) + tag + ".gguf");
            for (const moe::WeightTensor& t : q.tensors()) {
                const std::vector<float> ref = values_of(tensor(f32, t.name));
                std::vector<uint8_t> expect(t.n_bytes);
                REQUIRE_OK(moe::quantize_row(t.type, ref.data(), expect.data(), static_cast<int64_t>(ref.size())));
                CHECK(std::memcmp(expect.data(), t.data, t.n_bytes) == 0);
            }
        }
        // The HF bf16 folder holds the same f32 values rounded to bf16.
        const moe::ModelSource hf = write_and_open(tiny(arch, GgmlType::BF16, FixtureFormat::Safetensors), "q-hf-" + tag);
        const moe::WeightTensor& e = tensor(hf, "model.embed_tokens.weight");
        const std::vector<float> ref = values_of(tensor(f32, "token_embd.weight"));
        std::vector<uint8_t> expect(e.n_bytes);
        REQUIRE_OK(moe::quantize_row(GgmlType::BF16, ref.data(), expect.data(), static_cast<int64_t>(ref.size())));
        CHECK(std::memcmp(expect.data(), e.data, e.n_bytes) == 0);
    }
}

MOE_TEST(values_are_normal_with_the_documented_scales) {
    const moe::ModelSource m = write_and_open(tiny(Arch::Deepseek2), "dist.gguf");
    const auto stats = [&](const std::string& name) {
        const std::vector<float> v = values_of(tensor(m, name));
        double sum = 0, sq = 0;
        for (float x : v) {
            sum += x;
            sq += static_cast<double>(x) * x;
        }
        const double mean = sum / static_cast<double>(v.size());
        return std::make_pair(mean, std::sqrt(sq / static_cast<double>(v.size()) - mean * mean));
    };
    auto [m1, s1] = stats("token_embd.weight");
    CHECK_NEAR(m1, 0.0, 0.001);
    CHECK_NEAR(s1, 0.02, 0.0005);
    auto [m2, s2] = stats("blk.1.ffn_gate_inp.weight");
    CHECK_NEAR(s2, 0.5, 0.03);
    auto [m3, s3] = stats("blk.0.attn_norm.weight");
    CHECK_EQ(m3, 1.0);
    CHECK_EQ(s3, 0.0);
    const std::vector<float> embd = values_of(tensor(m, "token_embd.weight"));
    CHECK_EQ(moe::fixture_value(7, "token_embd.weight", 5, 0.02f), embd[5]);
    (void)m2;
}

MOE_TEST(tokenizer_round_trips_and_gguf_equals_hf) {
    for (Arch arch : {Arch::Deepseek2, Arch::Deepseek, Arch::Llama}) {
        const std::string tag = moe::arch_name(arch);
        const moe::ModelSource g = write_and_open(tiny(arch), "tok-" + tag + ".gguf");
        const moe::ModelSource h = write_and_open(tiny(arch, GgmlType::F32, FixtureFormat::Safetensors), "tok-" + tag);
        auto tg = moe::Tokenizer::create(*g.vocab());
        auto th = moe::Tokenizer::create(*h.vocab());
        REQUIRE_OK(tg);
        REQUIRE_OK(th);
        CHECK(tg->vocab().merges.size() > 200);
        const char* texts[] = {"Hello world, the model is 12345 tokens long.",
                               "  spaces\tand\nnew lines\r\n",
                               "Unicode: caf\xC3\xA9, \xE4\xBD\xA0\xE5\xA5\xBD, \xF0\x9F\x98\x80 and \xD0\x9F\xD1\x80\xD0\xB8",
                               "int add(int a, int b) { return a + b; }",
                               ""};
        for (const char* text : texts) {
            const std::vector<int32_t> ids = tg->encode(text, false, true);
            CHECK_EQ(tg->decode(ids), std::string(text));
            CHECK(ids == th->encode(text, false, true));
            const std::vector<int32_t> with_bos = tg->encode(text, true, true);
            REQUIRE(!with_bos.empty());
            CHECK_EQ(with_bos[0], tg->bos_id());
        }
        const std::string eos = tg->token_to_piece(tg->eos_id());
        const std::vector<int32_t> ids = tg->encode("Hi" + eos, false, true);
        CHECK_EQ(ids.back(), tg->eos_id());
        CHECK_EQ(tg->n_vocab(), th->n_vocab());
    }
}

MOE_TEST(split_gguf_and_sharded_safetensors) {
    FixtureSpec s = tiny(Arch::Deepseek2, GgmlType::F32);
    s.split_max_bytes = 512 * 1024;
    auto r = moe::write_fixture(s, out_path("split.gguf"));
    REQUIRE_OK(r);
    CHECK(r->files.size() > 2);
    auto split = moe::ModelSource::open(r->files[1]);
    REQUIRE_OK(split);
    CHECK_EQ(static_cast<int>(split->description().format), static_cast<int>(moe::ModelFormat::GgufSplit));
    const moe::ModelSource whole = write_and_open(tiny(Arch::Deepseek2), "whole.gguf");
    CHECK_EQ(split->tensors().size(), whole.tensors().size());
    for (const moe::WeightTensor& t : whole.tensors()) CHECK(values_of(tensor(*split, t.name)) == values_of(t));

    FixtureSpec h = tiny(Arch::Deepseek2, GgmlType::F16, FixtureFormat::Safetensors);
    h.shard_max_bytes = 256 * 1024;
    auto rh = moe::write_fixture(h, out_path("sharded"));
    REQUIRE_OK(rh);
    CHECK(std::filesystem::exists(out_path("sharded") + "/model.safetensors.index.json"));
    CHECK(rh->files.size() > 6);
    auto sharded = moe::ModelSource::open(out_path("sharded"));
    REQUIRE_OK(sharded);
    CHECK(sharded->description().warnings.empty());
    uint64_t bytes = 0;
    for (const std::string& f : rh->files) bytes += std::filesystem::file_size(f);
    CHECK_EQ(bytes, rh->n_bytes);
}

MOE_TEST(writers_stream_tensors_from_producers) {
    std::vector<float> data(96);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i) * 0.5f;
    const auto producer = [&](uint64_t give) {
        return [&data, give](const moe::TensorSink& sink) -> moe::Status {
            const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
            MOE_RETURN_IF_ERROR(sink(bytes, 100));
            return sink(bytes + 100, give - 100);
        };
    };
    const uint64_t n = data.size() * 4;
    moe::GgufWriter a, b, bad;
    a.set("general.architecture", moe::GgufValue::make_string("llama"));
    b.set("general.architecture", moe::GgufValue::make_string("llama"));
    bad.set("general.architecture", moe::GgufValue::make_string("llama"));
    REQUIRE_OK(a.add_tensor("t", GgmlType::F32, {32, 3}, data.data(), n));
    REQUIRE_OK(b.add_tensor("t", GgmlType::F32, {32, 3}, n, producer(n)));
    REQUIRE_OK(bad.add_tensor("t", GgmlType::F32, {32, 3}, n, producer(n - 4)));
    CHECK(!b.add_tensor("u", GgmlType::F32, {32, 3}, n - 4, producer(n)).ok());  // size checked up front
    REQUIRE_OK(a.write(out_path("ptr.gguf")));
    REQUIRE_OK(b.write(out_path("stream.gguf")));
    CHECK(read_bytes(out_path("ptr.gguf")) == read_bytes(out_path("stream.gguf")));
    const moe::Status short_write = bad.write(out_path("short.gguf"));
    CHECK(!short_write.ok() && short_write.message().find("tensor 't'") != std::string::npos);
    CHECK(!std::filesystem::exists(out_path("short.gguf")));

    moe::SafetensorsWriter sa, sb, sbad;
    REQUIRE_OK(sa.add_tensor("t", moe::SafetensorsDtype::F32, {3, 32}, data.data(), n));
    REQUIRE_OK(sb.add_tensor("t", moe::SafetensorsDtype::F32, {3, 32}, n, producer(n)));
    REQUIRE_OK(sbad.add_tensor("t", moe::SafetensorsDtype::F32, {3, 32}, n, producer(n + 4)));
    REQUIRE_OK(sa.write(out_path("ptr.safetensors")));
    REQUIRE_OK(sb.write(out_path("stream.safetensors")));
    CHECK(read_bytes(out_path("ptr.safetensors")) == read_bytes(out_path("stream.safetensors")));
    CHECK(!sbad.write(out_path("long.safetensors")).ok());
    CHECK(!std::filesystem::exists(out_path("long.safetensors")));
}
