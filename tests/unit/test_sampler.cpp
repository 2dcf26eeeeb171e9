// Sampler chain, its RNG and the stop-string matcher (engine/runtime/sampler.h). Expected values are worked out
// by hand in the comments; distributions are checked with a chi-square bound over many seeded draws.
#include "check.h"
#include "runtime/rng.h"
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace moe;

namespace {

SamplerParams plain(float temperature) {  // no truncation, no penalties
    SamplerParams p;
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

std::vector<float> logits_of(const std::vector<double>& probs) {
    std::vector<float> l;
    for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
    return l;
}

std::vector<int64_t> histogram(Sampler& s, const std::vector<float>& logits, int n_draws) {
    std::vector<int64_t> h(logits.size(), 0);
    for (int i = 0; i < n_draws; ++i) {
        const int32_t t = s.sample(logits, {});
        REQUIRE(t >= 0 && t < static_cast<int32_t>(logits.size()));
        ++h[static_cast<size_t>(t)];
    }
    return h;
}

// Pearson's statistic against expected probabilities (entries with p = 0 must not occur at all).
double chi_square(const std::vector<int64_t>& h, const std::vector<double>& p, int n_draws) {
    double chi2 = 0.0;
    for (size_t i = 0; i < h.size(); ++i) {
        if (p[i] == 0.0) {
            if (h[i] != 0) return INFINITY;
            continue;
        }
        const double e = p[i] * n_draws;
        chi2 += (static_cast<double>(h[i]) - e) * (static_cast<double>(h[i]) - e) / e;
    }
    return chi2;
}

std::set<int32_t> drawn_set(Sampler& s, const std::vector<float>& logits, int n_draws) {
    std::set<int32_t> seen;
    for (int i = 0; i < n_draws; ++i) seen.insert(s.sample(logits, {}));
    return seen;
}

// top_k = 1 makes the sampler return the argmax of the penalised logits: a way to see the penalties.
int32_t argmax_after_penalties(SamplerParams p, const std::vector<float>& logits, const std::vector<int32_t>& history) {
    p.temperature = 1.0f;
    p.top_k = 1;
    Sampler s(p);
    return s.sample(logits, history);
}

}  // namespace

MOE_TEST(rng_matches_reference_xoshiro256starstar) {
    // splitmix64(0) starts 0xe220a8397b1dcdaf (the published value); the outputs below come from the reference
    // algorithm, so a change of generator (and so of every seeded sequence) is caught here.
    Rng r(0);
    CHECK_EQ(r.next_u64(), 0x99ec5f36cb75f2b4ull);
    CHECK_EQ(r.next_u64(), 0xbf6e1f784956452aull);
    CHECK_EQ(r.next_u64(), 0x1a5f849d4933e6e0ull);
    r.reseed(42);
    CHECK_EQ(r.next_u64(), 0x15780b2e0c2ec716ull);
    for (int i = 0; i < 100000; ++i) {
        const double u = r.uniform();
        const float f = r.uniform_float();
        REQUIRE(u >= 0.0 && u < 1.0 && f >= 0.0f && f < 1.0f);
    }
}

MOE_TEST(greedy_takes_argmax_with_ties_to_lowest_id) {
    const std::vector<float> logits = {1.0f, 3.0f, 3.0f, 2.0f};
    for (float t : {0.0f, -1.0f}) {
        SamplerParams p;
        p.temperature = t;
        p.repeat_penalty = 10.0f;  // ignored by greedy, as are all other options
        Sampler s(p);
        CHECK_EQ(s.sample(logits, std::vector<int32_t>{1, 1, 1}), 1);
    }
    Sampler s(plain(0.0f));
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    CHECK_EQ(s.sample(std::vector<float>{nan, -1.0f, nan}, {}), 1);  // NaN never wins
    CHECK_EQ(s.sample(std::vector<float>{-inf, -inf, -inf}, {}), 0);
    CHECK_EQ(s.sample(std::vector<float>{0.0f, inf, inf}, {}), 1);
    // Long rows (the vectorised maximum and search): ties keep the lower id, NaN never wins, +inf wins.
    std::vector<float> row(1000, -2.0f);
    for (size_t i = 3; i < row.size(); i += 97) row[i] = nan;
    row[500] = row[700] = 7.5f;
    CHECK_EQ(greedy_token(row), 500);
    row[999] = 8.0f;
    CHECK_EQ(greedy_token(row), 999);
    row[900] = row[950] = inf;
    CHECK_EQ(greedy_token(row), 900);
    CHECK_EQ(greedy_token(std::vector<float>(100, nan)), 0);
    CHECK_EQ(greedy_token(std::vector<float>(100, -inf)), 0);
}

MOE_TEST(same_seed_same_sequence_different_seed_differs) {
    std::mt19937 gen(7);
    std::normal_distribution<float> dist(0.0f, 2.0f);
    std::vector<float> logits(1000);
    for (float& l : logits) l = dist(gen);
    SamplerParams p;  // the default chain
    p.temperature = 1.5f;
    p.seed = 1234;
    Sampler a(p), b(p);
    p.seed = 1235;
    Sampler c(p);
    std::vector<int32_t> sa, sb, sc;
    for (int i = 0; i < 500; ++i) {
        sa.push_back(a.sample(logits, sa));
        sb.push_back(b.sample(logits, sb));
        sc.push_back(c.sample(logits, sc));
    }
    CHECK(sa == sb);
    CHECK(sa != sc);
    CHECK(std::set<int32_t>(sa.begin(), sa.end()).size() > 5);  // it really sampled
    a.reseed(1234);
    CHECK_EQ(a.params().seed, 1234u);
    std::vector<int32_t> again;
    for (int i = 0; i < 500; ++i) again.push_back(a.sample(logits, again));
    CHECK(again == sa);
}

MOE_TEST(temperature_one_matches_softmax_chi_square) {
    const std::vector<double> probs = {0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.03, 0.015, 0.005};
    const int n = 200000;
    Sampler s(plain(1.0f));
    // 9 degrees of freedom: P(chi2 > 33.7) = 1e-4, so a correct sampler fails this essentially never (and the
    // seed is fixed), while a bias of 1% on one token already adds ~60.
    CHECK(chi_square(histogram(s, logits_of(probs), n), probs, n) < 33.7);

    // Temperature 2: p_i proportional to sqrt(probs_i).
    std::vector<double> hot;
    double sum = 0.0;
    for (double p : probs) sum += std::sqrt(p);
    for (double p : probs) hot.push_back(std::sqrt(p) / sum);
    Sampler s2(plain(2.0f));
    CHECK(chi_square(histogram(s2, logits_of(probs), n), hot, n) < 33.7);

    // top_k = 4 renormalises over the four best: 0.3, 0.2, 0.15, 0.1 (sum 0.75).
    SamplerParams p = plain(1.0f);
    p.top_k = 4;
    Sampler s3(p);
    std::vector<double> top4(probs.size(), 0.0);
    for (int i = 0; i < 4; ++i) top4[i] = probs[i] / 0.75;
    CHECK(chi_square(histogram(s3, logits_of(probs), n), top4, n) < 21.1);  // 3 dof, 1e-4
}

MOE_TEST(top_k_one_is_greedy) {
    std::mt19937 gen(3);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    SamplerParams p = plain(5.0f);
    p.top_k = 1;
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<float> logits(3000);
        for (float& l : logits) l = dist(gen);
        logits[static_cast<size_t>(trial * 37)] = logits[static_cast<size_t>(trial * 37 + 1)] = 9.0f;  // a tie
        p.seed = static_cast<uint64_t>(trial);
        Sampler s(p);
        CHECK_EQ(s.sample(logits, {}), trial * 37);
    }
}

MOE_TEST(top_p_keeps_the_minimal_nucleus) {
    // Ids shuffled so that "best first" is not id order: p(2)=0.5, p(0)=0.3, p(3)=0.15, p(1)=0.05.
    const std::vector<float> logits = logits_of({0.3, 0.05, 0.5, 0.15});
    for (int32_t top_k : {0, 4, 3}) {
        SamplerParams p = plain(1.0f);
        p.top_k = top_k;
        p.top_p = 0.75f;  // 0.5 < 0.75 <= 0.5 + 0.3
        Sampler s(p);
        if (top_k == 3) {  // over the top 3 (sum 0.95): 0.526, 0.316, ... -> still needs two
            CHECK(drawn_set(s, logits, 3000) == (std::set<int32_t>{2, 0}));
            continue;
        }
        CHECK(drawn_set(s, logits, 3000) == (std::set<int32_t>{2, 0}));
        p.top_p = 0.85f;  // needs the third: 0.8 < 0.85
        Sampler s2(p);
        CHECK(drawn_set(s2, logits, 3000) == (std::set<int32_t>{2, 0, 3}));
        p.top_p = 0.4f;  // the top token alone
        Sampler s3(p);
        CHECK(drawn_set(s3, logits, 300) == (std::set<int32_t>{2}));
        p.top_p = 0.0f;
        Sampler s4(p);
        CHECK(drawn_set(s4, logits, 300) == (std::set<int32_t>{2}));
    }
    // Within the nucleus the probabilities are renormalised: 0.5/0.8 and 0.3/0.8.
    SamplerParams p = plain(1.0f);
    p.top_p = 0.75f;
    Sampler s(p);
    const int n = 100000;
    CHECK(chi_square(histogram(s, logits, n), {0.375, 0.0, 0.625, 0.0}, n) < 15.1);  // 1 dof, 1e-4
}

MOE_TEST(top_p_over_a_large_flat_vocab) {
    // 5000 equal logits, no top-k: the nucleus of 0.5001 is 2501 tokens, the lowest ids (ties by id). This
    // takes the growing partial sort past its first 256 candidates.
    const std::vector<float> logits(5000, 0.25f);
    SamplerParams p = plain(1.0f);
    p.top_p = 0.5001f;
    Sampler s(p);
    int32_t max_id = 0;
    for (int i = 0; i < 20000; ++i) max_id = std::max(max_id, s.sample(logits, {}));
    CHECK_EQ(max_id, 2500);  // 20000 draws over 2501 tokens: the last one appears with probability ~1 - 3e-4
}

MOE_TEST(min_p_threshold) {
    const std::vector<float> logits = logits_of({0.5, 0.3, 0.12, 0.08});
    SamplerParams p = plain(1.0f);
    p.min_p = 0.2f;  // threshold 0.1: keeps 0.5, 0.3, 0.12
    Sampler s(p);
    CHECK(drawn_set(s, logits, 5000) == (std::set<int32_t>{0, 1, 2}));
    p.min_p = 0.25f;  // threshold 0.125
    Sampler s2(p);
    CHECK(drawn_set(s2, logits, 5000) == (std::set<int32_t>{0, 1}));
    p.min_p = 1.0f;
    Sampler s3(p);
    CHECK(drawn_set(s3, logits, 300) == (std::set<int32_t>{0}));
    // With top-p as well, the shorter of the two prefixes wins either way round.
    p.min_p = 0.2f;
    p.top_p = 0.7f;  // nucleus {0, 1}
    Sampler s4(p);
    CHECK(drawn_set(s4, logits, 5000) == (std::set<int32_t>{0, 1}));
    // Temperature comes before min-p: at T = 0.5, p is proportional to probs^2 (.25, .09, .0144, .0064), so
    // min_p = 0.05 (threshold .0125) drops token 3; at T = 1 (llama.cpp's order) it would keep all four.
    p = plain(0.5f);
    p.min_p = 0.05f;
    Sampler s5(p);
    CHECK(drawn_set(s5, logits, 20000) == (std::set<int32_t>{0, 1, 2}));
}

MOE_TEST(repeat_penalty_sign_rule_and_window) {
    SamplerParams p;
    p.repeat_penalty = 1.5f;
    // Positive logit is divided: 2.0 / 1.5 = 1.333 < 1.5.
    CHECK_EQ(argmax_after_penalties(p, {2.0f, 1.5f}, {0}), 1);
    p.repeat_penalty = 1.3f;  // 2.0 / 1.3 = 1.538 > 1.5
    CHECK_EQ(argmax_after_penalties(p, {2.0f, 1.5f}, {0}), 0);
    // Negative logit is multiplied: -1.0 * 1.5 = -1.5 < -1.2 (dividing would give -0.667 and keep token 0).
    p.repeat_penalty = 1.5f;
    CHECK_EQ(argmax_after_penalties(p, {-1.0f, -1.2f}, {0}), 1);
    // Repeats do not compound: the penalty is applied once per distinct token.
    p.repeat_penalty = 1.3f;
    CHECK_EQ(argmax_after_penalties(p, {2.0f, 1.5f}, {0, 0, 0, 0}), 0);
    // Window: with last_n = 2, history {0, 1, 1} penalises only token 1.
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 2;
    CHECK_EQ(argmax_after_penalties(p, {2.0f, 2.5f}, {0, 1, 1}), 0);  // 2.5 / 2 = 1.25 < 2
    CHECK_EQ(argmax_after_penalties(p, {2.5f, 2.0f, 0.0f}, {0, 2, 2}), 0);  // token 0 outside the window
    p.repeat_last_n = 3;
    CHECK_EQ(argmax_after_penalties(p, {2.5f, 2.0f, 0.0f}, {0, 2, 2}), 1);  // 2.5 / 2 = 1.25 < 2.0
    p.repeat_last_n = 4;  // id 5 is outside the vocabulary (ignored); token 0 is outside the window
    CHECK_EQ(argmax_after_penalties(p, {2.5f, 1.3f}, {0, 5, 5, 5, 5}), 0);
    p.repeat_last_n = -1;  // whole history: 1.25 < 1.3
    CHECK_EQ(argmax_after_penalties(p, {2.5f, 1.3f}, {0, 5, 5, 5, 5}), 1);
    p.repeat_last_n = 0;  // off
    CHECK_EQ(argmax_after_penalties(p, {2.5f, 2.0f}, {0}), 0);
    // Ids outside the vocabulary are ignored, not a crash.
    p.repeat_last_n = 64;
    CHECK_EQ(argmax_after_penalties(p, {2.5f, 2.0f}, {-7, 1 << 30}), 0);
}

MOE_TEST(frequency_and_presence_penalties_count_occurrences) {
    SamplerParams p;
    p.frequency_penalty = 0.3f;  // 3 occurrences: 3.0 - 0.9 = 2.1 > 2.0
    CHECK_EQ(argmax_after_penalties(p, {3.0f, 2.0f}, {0, 0, 0}), 0);
    p.frequency_penalty = 0.4f;  // 3.0 - 1.2 = 1.8 < 2.0
    CHECK_EQ(argmax_after_penalties(p, {3.0f, 2.0f}, {0, 0, 0}), 1);
    p.frequency_penalty = 0.4f;  // only 2 occurrences in the last 2 tokens: 3.0 - 0.8 = 2.2 > 2.0
    p.repeat_last_n = 2;
    CHECK_EQ(argmax_after_penalties(p, {3.0f, 2.0f}, {0, 0, 0}), 0);
    p = SamplerParams();
    p.presence_penalty = 0.9f;  // once, whatever the count: 3.0 - 0.9 = 2.1
    CHECK_EQ(argmax_after_penalties(p, {3.0f, 2.0f}, {0, 0, 0}), 0);
    p.presence_penalty = 1.1f;  // 1.9 < 2.0
    CHECK_EQ(argmax_after_penalties(p, {3.0f, 2.0f}, {0, 0, 0}), 1);
    // All three, in llama.cpp's order: (4.0 / 2) - 2 * 0.25 - 0.4 = 1.1 vs 1.15 and 1.05.
    p = SamplerParams();
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.25f;
    p.presence_penalty = 0.4f;
    CHECK_EQ(argmax_after_penalties(p, {4.0f, 1.15f}, {0, 0}), 1);
    CHECK_EQ(argmax_after_penalties(p, {4.0f, 1.05f}, {0, 0}), 0);
    // Negative penalties raise a token.
    p = SamplerParams();
    p.presence_penalty = -1.0f;
    CHECK_EQ(argmax_after_penalties(p, {1.0f, 1.5f}, {0}), 0);
}

MOE_TEST(penalties_change_the_distribution_exactly) {
    // Two tokens, temperature 1: p(0) = sigmoid(l0' - l1'). l0' = 1.0 / 2 = 0.5, l1' = 0 -> p(0) = 0.6225.
    SamplerParams p = plain(1.0f);
    p.repeat_penalty = 2.0f;
    Sampler s(p);
    const int n = 100000;
    int64_t zeros = 0;
    const std::vector<int32_t> history = {0};
    for (int i = 0; i < n; ++i) zeros += s.sample(std::vector<float>{1.0f, 0.0f}, history) == 0;
    const double expected = 1.0 / (1.0 + std::exp(-0.5));
    CHECK_NEAR(static_cast<double>(zeros) / n, expected, 4.0 * std::sqrt(expected * (1 - expected) / n));
}

MOE_TEST(non_finite_logits) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    SamplerParams p = plain(1.0f);
    Sampler s(p);
    CHECK(drawn_set(s, {nan, 0.0f, -inf, 0.0f}, 2000) == (std::set<int32_t>{1, 3}));
    CHECK(drawn_set(s, {0.0f, inf, 5.0f}, 200) == (std::set<int32_t>{1}));
    CHECK(drawn_set(s, {-inf, nan, -inf}, 20) == (std::set<int32_t>{0}));
    p.top_k = 2;
    Sampler s2(p);
    CHECK(drawn_set(s2, {nan, 0.0f, -inf, 0.0f, nan}, 2000) == (std::set<int32_t>{1, 3}));
    // A tiny temperature is greedy in effect, not NaN.
    p = plain(1e-30f);
    Sampler s3(p);
    CHECK(drawn_set(s3, {0.0f, 1.0f, 0.999f}, 200) == (std::set<int32_t>{1}));
}

MOE_TEST(validation_names_field_and_range) {
    REQUIRE_OK(validate_sampler_params(SamplerParams()));
    SamplerParams ok;
    ok.temperature = 0.0f;
    ok.top_k = 0;
    ok.top_p = 1.0f;
    ok.min_p = 0.0f;
    ok.repeat_last_n = -1;
    REQUIRE_OK(validate_sampler_params(ok));

    const auto message = [](auto mutate) {
        SamplerParams p;
        mutate(p);
        return validate_sampler_params(p).message();
    };
    const std::string t = message([](SamplerParams& p) { p.temperature = NAN; });
    CHECK(t.find("temperature") != std::string::npos && t.find("finite") != std::string::npos);
    const std::string tp = message([](SamplerParams& p) { p.top_p = 1.5f; });
    CHECK(tp.find("top_p") != std::string::npos && tp.find("[0, 1]") != std::string::npos &&
          tp.find("1.5") != std::string::npos);
    const std::string mp = message([](SamplerParams& p) { p.min_p = -0.1f; });
    CHECK(mp.find("min_p") != std::string::npos && mp.find("[0, 1]") != std::string::npos);
    const std::string rp = message([](SamplerParams& p) { p.repeat_penalty = 0.0f; });
    CHECK(rp.find("repeat_penalty") != std::string::npos && rp.find("> 0") != std::string::npos);
    const std::string rn = message([](SamplerParams& p) { p.repeat_last_n = -2; });
    CHECK(rn.find("repeat_last_n") != std::string::npos && rn.find(">= -1") != std::string::npos &&
          rn.find("-2") != std::string::npos);
    const std::string fp = message([](SamplerParams& p) { p.frequency_penalty = INFINITY; });
    CHECK(fp.find("frequency_penalty") != std::string::npos);
    const std::string pp = message([](SamplerParams& p) { p.presence_penalty = NAN; });
    CHECK(pp.find("presence_penalty") != std::string::npos);
}

// ---- StopStringMatcher ----

namespace {

// Pushes the pieces and returns everything shown (plus the flush when not stopped) and whether it stopped.
std::pair<std::string, bool> stream(StopStringMatcher& m, const std::vector<std::string>& pieces) {
    std::string shown;
    for (const std::string& piece : pieces) {
        const auto out = m.push(piece);
        shown += out.text;
        if (out.stopped) return {shown, true};
    }
    return {shown + m.flush(), false};
}

}  // namespace

MOE_TEST(stop_string_split_across_pushes) {
    StopStringMatcher m({"</s>"});
    auto out = m.push("Hello <");
    CHECK_EQ(out.text, std::string("Hello "));
    CHECK(!out.stopped);
    out = m.push("/");
    CHECK_EQ(out.text, std::string(""));
    out = m.push("s>more text");
    CHECK_EQ(out.text, std::string(""));
    CHECK(out.stopped);
    CHECK(m.stopped());
    out = m.push("after");
    CHECK(out.stopped && out.text.empty());
    CHECK_EQ(m.flush(), std::string(""));

    StopStringMatcher m2({"</s>"});
    CHECK_EQ(m2.push("a</").text, std::string("a"));
    CHECK_EQ(m2.push("b>").text, std::string("</b>"));  // a false start is released at once
}

MOE_TEST(stop_string_overlapping_prefixes) {
    StopStringMatcher m({"abc", "bcd"});
    CHECK_EQ(m.push("ab").text, std::string(""));   // "ab" could start "abc" (and "b" could start "bcd")
    CHECK_EQ(m.push("x").text, std::string("abx"));
    {
        StopStringMatcher m2({"abc", "bcd"});
        CHECK_EQ(m2.push("ab").text, std::string(""));
        const auto out = m2.push("bcd");  // "abbcd": "bcd" at 2
        CHECK(out.stopped);
        CHECK_EQ(out.text, std::string("ab"));
    }
    {
        StopStringMatcher m3({"abc", "bcd"});
        auto [shown, stopped] = stream(m3, {"a", "b", "c", "d"});
        CHECK(stopped);
        CHECK_EQ(shown, std::string(""));
    }
    {
        StopStringMatcher m4({"abc", "bcd"});
        CHECK_EQ(m4.push("xab").text, std::string("x"));
        const auto out = m4.push("cd");  // "abcd": both occur, "abc" starts first
        CHECK(out.stopped && out.text.empty());
    }
}

MOE_TEST(stop_string_multiple_stops_earliest_wins) {
    StopStringMatcher m({"STOP", "\n\n", "<|end|>"});
    auto [shown, stopped] = stream(m, {"line one", "\n", "\nline two STOP"});
    CHECK(stopped);
    CHECK_EQ(shown, std::string("line one"));
    StopStringMatcher m2({"STOP", "\n\n"});
    auto [shown2, stopped2] = stream(m2, {"xxSTOP\n\n"});
    CHECK(stopped2);
    CHECK_EQ(shown2, std::string("xx"));
    StopStringMatcher m3({"", "zz"});  // the empty stop string is ignored
    CHECK_EQ(m3.stops().size(), 1u);
    auto [shown3, stopped3] = stream(m3, {"plain ", "text z"});
    CHECK(!stopped3);
    CHECK_EQ(shown3, std::string("plain text z"));
}

MOE_TEST(stop_string_utf8_multibyte) {
    StopStringMatcher m({});
    CHECK_EQ(m.push("caf\xC3").text, std::string("caf"));  // half of "é" is held
    CHECK_EQ(m.push("\xA9!").text, std::string("\xC3\xA9!"));
    // A 4-byte emoji (U+1F600) byte by byte.
    CHECK_EQ(m.push("\xF0").text, std::string(""));
    CHECK_EQ(m.push("\x9F").text, std::string(""));
    CHECK_EQ(m.push("\x98").text, std::string(""));
    CHECK_EQ(m.push("\x80 ok").text, std::string("\xF0\x9F\x98\x80 ok"));
    CHECK_EQ(m.push("\xE2\x82").text, std::string(""));
    CHECK_EQ(m.flush(), std::string("\xE2\x82"));  // the end of generation shows what is left
    CHECK_EQ(m.push("\x80x").text, std::string("\x80x"));  // a stray continuation byte is not held forever

    StopStringMatcher euro({"\xE2\x82\xAC"});  // stop "€"
    CHECK_EQ(euro.push("price \xE2\x82").text, std::string("price "));
    const auto out = euro.push("\xAC 5");
    CHECK(out.stopped && out.text.empty());
    StopStringMatcher euro2({"\xE2\x82\xAC"});
    CHECK_EQ(euro2.push("\xE2\x82").text, std::string(""));
    CHECK_EQ(euro2.push("\xA2").text, std::string("\xE2\x82\xA2"));  // "₢", not the stop
}

MOE_TEST(stop_string_flush_and_reset) {
    StopStringMatcher m({"<|end|>"});
    CHECK_EQ(m.push("abc <|e").text, std::string("abc "));
    CHECK_EQ(m.flush(), std::string("<|e"));
    CHECK_EQ(m.flush(), std::string(""));
    CHECK(m.push("<|end|>").stopped);
    m.reset();
    CHECK(!m.stopped());
    CHECK_EQ(m.push("again").text, std::string("again"));
}

MOE_TEST(stop_string_random_splits_match_reference) {
    // Any split of any text gives, in total, the text up to the first stop occurrence.
    const std::vector<std::string> stops = {"abc", "bcd", "dd", "\xC3\xA9" "a"};
    const std::string alphabet[] = {"a", "b", "c", "d", "\xC3\xA9", "x"};
    std::mt19937 gen(11);
    for (int trial = 0; trial < 3000; ++trial) {
        std::string text;
        const int len = static_cast<int>(gen() % 14);
        for (int i = 0; i < len; ++i) text += alphabet[gen() % 6];
        size_t first = std::string::npos;
        for (const auto& s : stops) first = std::min(first, text.find(s));
        const std::string expected = first == std::string::npos ? text : text.substr(0, first);

        std::vector<std::string> pieces;
        for (size_t pos = 0; pos < text.size();) {
            const size_t n = std::min<size_t>(text.size() - pos, 1 + gen() % 4);
            pieces.push_back(text.substr(pos, n));
            pos += n;
        }
        StopStringMatcher m(stops);
        auto [shown, stopped] = stream(m, pieces);
        CHECK_EQ(shown, expected);
        CHECK_EQ(stopped, first != std::string::npos);
    }
}
