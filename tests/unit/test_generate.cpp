// Session and generate(): prefix reuse gives the same logits as computing from scratch, same seed same reply,
// cancellation between tokens, stop strings, max tokens, the context-full error and finish reason, the routing
// trace (rows, ids in range, weights as routed) and dropping old turns to fit a conversation.
#include "check.h"

#include "model/fixture_writer.h"
#include "model/model.h"
#include "runtime/chat.h"
#include "runtime/generator.h"
#include "runtime/session.h"

#include <atomic>
#include <cmath>
#include <string>
#include <vector>

namespace {

std::unique_ptr<moe::Model> tiny_model(moe::Arch arch = moe::Arch::Deepseek2) {
    static std::string path;
    const std::string p = moe_test::temp_dir() + "/tiny-" + moe::arch_name(arch) + ".gguf";
    auto spec = moe::fixture_preset(arch, "tiny");
    REQUIRE_OK(spec);
    spec->n_threads = 2;
    REQUIRE_OK(moe::write_fixture(*spec, p));
    auto model = moe::Model::load(p, {2, 512});
    REQUIRE_OK(model);
    return std::move(model).value();
}

moe::GenerateOptions sampled(int32_t n, uint64_t seed) {
    moe::GenerateOptions o;
    o.max_tokens = n;
    o.sampler.temperature = 1.0f;
    o.sampler.seed = seed;
    o.stop_at_eog = false;
    return o;
}

}  // namespace

MOE_TEST(prefix_reuse_gives_the_same_logits) {
    auto model = tiny_model();
    auto a = moe::Session::create(*model, {128, moe::KvType::F32, true});
    auto b = moe::Session::create(*model, {128, moe::KvType::F32, true});
    REQUIRE_OK(a);
    REQUIRE_OK(b);
    const std::vector<int32_t> turn1 = {300, 72, 101, 340, 111, 272};
    std::vector<int32_t> turn2 = turn1;
    for (int32_t t : {261, 464, 44, 332, 337}) turn2.push_back(t);
    std::vector<float> la, lb;
    int64_t reused = -1;
    REQUIRE_OK((*a)->sync(turn1, la, &reused));
    CHECK_EQ(reused, 0);
    REQUIRE_OK((*a)->sync(turn2, la, &reused));
    CHECK_EQ(reused, int64_t(turn1.size()));
    REQUIRE_OK((*b)->sync(turn2, lb, &reused));
    CHECK_EQ(reused, 0);
    double d = 0;
    for (size_t i = 0; i < la.size(); ++i) d = std::max(d, double(std::fabs(la[i] - lb[i])));
    CHECK(d <= 1e-5);
    // The trace covers every token once, in order.
    CHECK_EQ((*a)->trace().n_rows(), int64_t(turn2.size()));
    CHECK_EQ((*a)->trace().token(int64_t(turn2.size()) - 1), turn2.back());
    // A diverging prompt rewinds to the common prefix.
    std::vector<int32_t> other = {300, 72, 5, 6};
    REQUIRE_OK((*a)->sync(other, la, &reused));
    CHECK_EQ(reused, 2);
    CHECK_EQ((*a)->trace().n_rows(), 4);
}

MOE_TEST(same_seed_same_reply_and_routing_trace) {
    auto model = tiny_model();
    const std::vector<int32_t> prompt = {300, 72, 101, 340};
    std::vector<int32_t> first;
    for (int rep = 0; rep < 2; ++rep) {
        auto s = moe::Session::create(*model, {128, moe::KvType::F32, true});
        REQUIRE_OK(s);
        auto r = moe::generate(**s, prompt, sampled(20, 7));
        REQUIRE_OK(r);
        CHECK_EQ(r->tokens.size(), size_t(20));
        CHECK(r->finish == moe::FinishReason::Length);
        CHECK(r->ttft_ms > 0.0);
        CHECK_EQ(r->token_latencies_ms.size(), size_t(20));
        if (rep == 0) first = r->tokens;
        else CHECK(r->tokens == first);
        // Trace: prompt + 19 fed-back tokens (the last sampled one is never run through the model).
        const moe::RoutingTrace& t = (*s)->trace();
        CHECK_EQ(t.n_rows(), int64_t(prompt.size() + 19));
        for (int64_t row = 0; row < t.n_rows(); ++row)
            for (int32_t slot = 0; slot < t.n_slots(); ++slot)
                for (int32_t id : t.experts(row, slot)) CHECK(id >= 0 && id < t.n_expert());
    }
    auto s = moe::Session::create(*model, {128, moe::KvType::F32, true});
    auto other = moe::generate(**s, prompt, sampled(20, 8));
    REQUIRE_OK(other);
    CHECK(other->tokens != first);
}

MOE_TEST(cancel_between_tokens_and_callback_stop) {
    auto model = tiny_model();
    auto s = moe::Session::create(*model, {128, moe::KvType::F32, false});
    std::atomic<bool> cancel{false};
    int seen = 0;
    auto r = moe::generate(**s, std::vector<int32_t>{300, 72}, sampled(50, 1), [&](const moe::TokenEvent&) {
        if (++seen == 5) cancel = true;
        return true;
    }, &cancel);
    REQUIRE_OK(r);
    CHECK(r->finish == moe::FinishReason::Cancelled);
    CHECK_EQ(r->tokens.size(), size_t(5));
    auto r2 = moe::generate(**s, std::vector<int32_t>{300, 72}, sampled(50, 1),
                            [&](const moe::TokenEvent& ev) { return ev.index < 2; });
    REQUIRE_OK(r2);
    CHECK(r2->finish == moe::FinishReason::Cancelled);
    CHECK_EQ(r2->tokens.size(), size_t(3));
}

MOE_TEST(stop_string_ends_the_reply_without_it) {
    auto model = tiny_model();
    auto s = moe::Session::create(*model, {256, moe::KvType::F32, false});
    auto free_run = moe::generate(**s, std::vector<int32_t>{300, 72, 101}, sampled(40, 3));
    REQUIRE_OK(free_run);
    const std::string text = free_run->text;
    REQUIRE(text.size() >= 6);
    // Stop at a piece of the text the same seed produces.
    const std::string stop = text.substr(text.size() / 2, 2);
    moe::GenerateOptions o = sampled(40, 3);
    o.stop = {stop};
    auto r = moe::generate(**s, std::vector<int32_t>{300, 72, 101}, o);
    REQUIRE_OK(r);
    CHECK(r->finish == moe::FinishReason::Stop);
    CHECK(r->text == text.substr(0, text.find(stop)));
}

MOE_TEST(context_full_is_an_error_for_the_prompt_and_a_finish_reason_for_the_reply) {
    auto model = tiny_model();
    auto s = moe::Session::create(*model, {8, moe::KvType::F32, false});
    REQUIRE_OK(s);
    std::vector<float> logits;
    const moe::Status too_long = (*s)->sync(std::vector<int32_t>(9, 72), logits);
    CHECK(!too_long.ok());
    CHECK(too_long.message().find("context holds 8") != std::string::npos);
    auto r = moe::generate(**s, std::vector<int32_t>{300, 72, 101}, sampled(100, 1));
    REQUIRE_OK(r);
    CHECK(r->finish == moe::FinishReason::ContextFull);
    CHECK_EQ(r->tokens.size(), size_t(6));  // positions 3..7 filled by fed-back tokens, plus the last sampled one
}

MOE_TEST(chat_fits_by_dropping_oldest_turns_only_when_allowed) {
    auto model = tiny_model();
    std::vector<moe::ChatMessage> msgs = {{"system", "Be brief."}};
    for (int i = 0; i < 6; ++i) {
        msgs.push_back({"user", "Tell me about the routing of token " + std::to_string(i) + " please."});
        msgs.push_back({"assistant", "It goes to some experts and comes back, number " + std::to_string(i) + "."});
    }
    msgs.push_back({"user", "And the last one?"});
    auto full = moe::chat_prompt_tokens(*model, msgs);
    REQUIRE_OK(full);
    const int64_t n_ctx = static_cast<int64_t>(full->size()) / 2;
    std::vector<moe::ChatMessage> copy = msgs;
    auto refused = moe::fit_chat_to_context(*model, copy, n_ctx, 16, false);
    CHECK(!refused.ok());
    CHECK(refused.status().message().find("allow dropping old turns") != std::string::npos);
    CHECK_EQ(copy.size(), msgs.size());
    auto fitted = moe::fit_chat_to_context(*model, copy, n_ctx, 16, true);
    REQUIRE_OK(fitted);
    CHECK(fitted->dropped_messages > 0);
    CHECK(int64_t(fitted->tokens.size()) <= n_ctx - 16);
    CHECK(copy.front().role == "system");
    CHECK(copy.back().content == "And the last one?");
}
