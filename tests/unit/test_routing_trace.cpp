// RoutingTrace storage and what is computed from it (engine/runtime/routing_trace.h), on hand-made traces whose
// counts, weight mass and statistics are worked out in the comments.
#include "check.h"
#include "runtime/routing_trace.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using namespace moe;

namespace {

// 4 experts, k = 2, MoE layers 1 and 3; tokens 10..13 at positions 5..8.
//   slot 0 ids  [0,1] [0,2] [0,1] [3,0]   weights [.6,.4] [.7,.3] [.5,.5] [.9,.1]
//   slot 1 ids  [0,1] [2,3] [1,0] [3,2]   weights [.25,.75] [.5,.5] [1,0] [.125,.875]
RoutingTrace make_trace() {
    RoutingTrace t;
    t.reset(4, 2, {1, 3});
    const std::vector<int32_t> tokens = {10, 11, 12, 13};
    REQUIRE(t.append_rows(std::span<const int32_t>(tokens).first(1), 5) == 0);  // a prompt of 1, then 3 at once
    REQUIRE(t.append_rows(std::span<const int32_t>(tokens).subspan(1), 6) == 1);
    const int32_t ids0[] = {0, 1, 0, 2, 0, 1, 3, 0};
    const float w0[] = {.6f, .4f, .7f, .3f, .5f, .5f, .9f, .1f};
    const int32_t ids1[] = {0, 1, 2, 3, 1, 0, 3, 2};
    const float w1[] = {.25f, .75f, .5f, .5f, 1.f, 0.f, .125f, .875f};
    t.record(0, 1, 0, ids0, w0);
    t.record(1, 3, 0, ids0 + 2, w0 + 2);
    t.record(0, 4, 1, ids1, w1);
    return t;
}

}  // namespace

MOE_TEST(trace_stores_rows_and_zeroes_unrecorded_slots) {
    RoutingTrace t = make_trace();
    CHECK_EQ(t.n_rows(), 4);
    CHECK_EQ(t.n_expert(), 4);
    CHECK_EQ(t.k(), 2);
    CHECK(t.moe_layers() == (std::vector<int32_t>{1, 3}));
    CHECK_EQ(t.token(2), 12);
    CHECK_EQ(t.position(3), 8);
    CHECK_EQ(t.experts(3, 0)[0], 3);
    CHECK_EQ(t.weights(1, 1)[1], 0.5f);

    const std::vector<int32_t> more = {14};
    CHECK_EQ(t.append_rows(more, 9), 4);
    CHECK_EQ(t.experts(4, 0)[0], 0);
    CHECK_EQ(t.experts(4, 1)[1], 0);
    CHECK_EQ(t.weights(4, 0)[0], 0.0f);
}

MOE_TEST(truncate_drops_rows_and_new_rows_start_zeroed) {
    RoutingTrace t = make_trace();
    t.truncate(2);
    CHECK_EQ(t.n_rows(), 2);
    CHECK_EQ(t.token(1), 11);
    t.truncate(10);  // no-op
    CHECK_EQ(t.n_rows(), 2);
    const std::vector<int32_t> more = {20, 21};
    CHECK_EQ(t.append_rows(more, 6), 2);
    CHECK_EQ(t.token(2), 20);
    CHECK_EQ(t.position(3), 7);
    // The dropped rows' routing does not come back.
    CHECK_EQ(t.experts(3, 0)[0], 0);
    CHECK_EQ(t.weights(3, 0)[0], 0.0f);
    CHECK_EQ(t.experts(1, 0)[1], 2);  // kept rows keep theirs
    t.truncate(0);
    CHECK_EQ(t.n_rows(), 0);
    t.reset(8, 1, {0});
    CHECK_EQ(t.n_rows(), 0);
    CHECK_EQ(t.n_slots(), 1);
}

MOE_TEST(aggregate_counts_and_weight_mass) {
    const RoutingTrace t = make_trace();
    const RoutingAggregate agg = aggregate_routing(t, 0, t.n_rows());
    CHECK_EQ(agg.n_expert, 4);
    CHECK_EQ(agg.n_rows, 4);
    CHECK(agg.moe_layers == (std::vector<int32_t>{1, 3}));
    // slot 0: expert 0 in all 4 rows, 1 twice, 2 and 3 once.
    CHECK(agg.counts == (std::vector<int64_t>{4, 2, 1, 1, 2, 2, 2, 2}));
    const double mass[] = {.6 + .7 + .5 + .1, .4 + .5, .3, .9, .25 + 0.0, .75 + 1.0, .5 + .875, .5 + .125};
    REQUIRE(agg.weight_mass.size() == 8);
    for (int i = 0; i < 8; ++i) CHECK_NEAR(agg.weight_mass[i], mass[i], 1e-6);

    const RoutingAggregate mid = aggregate_routing(t, 1, 3);  // rows 1, 2
    CHECK_EQ(mid.n_rows, 2);
    CHECK(mid.counts == (std::vector<int64_t>{2, 1, 1, 0, 1, 1, 1, 1}));
    const RoutingAggregate clamped = aggregate_routing(t, -5, 100);
    CHECK(clamped.counts == agg.counts);
    const RoutingAggregate empty = aggregate_routing(t, 3, 1);
    CHECK_EQ(empty.n_rows, 0);
    CHECK(empty.counts == (std::vector<int64_t>(8, 0)));
}

MOE_TEST(load_stats_by_hand) {
    const RoutingTrace t = make_trace();
    const auto stats = routing_load_stats(aggregate_routing(t, 0, t.n_rows()));
    REQUIRE(stats.size() == 2);
    // slot 0: counts 4,2,1,1 of 8 -> p = .5,.25,.125,.125: H = .5 + .5 + .375 + .375 = 1.75 bits.
    // mean 2, population variance (4 + 0 + 1 + 1) / 4 = 1.5 -> cv = sqrt(1.5) / 2; max/mean = 2.
    CHECK_EQ(stats[0].layer, 1);
    CHECK_NEAR(stats[0].entropy_bits, 1.75, 1e-12);
    CHECK_NEAR(stats[0].entropy_normalized, 0.875, 1e-12);
    CHECK_NEAR(stats[0].cv, std::sqrt(1.5) / 2.0, 1e-12);
    CHECK_NEAR(stats[0].max_over_mean, 2.0, 1e-12);
    CHECK_EQ(stats[0].unused_experts, 0);
    CHECK_EQ(stats[0].selections, 8);
    // slot 1: uniform -> log2 4 = 2 bits, normalised 1, cv 0, max/mean 1.
    CHECK_EQ(stats[1].layer, 3);
    CHECK_NEAR(stats[1].entropy_bits, 2.0, 1e-12);
    CHECK_NEAR(stats[1].entropy_normalized, 1.0, 1e-12);
    CHECK_NEAR(stats[1].cv, 0.0, 1e-12);
    CHECK_NEAR(stats[1].max_over_mean, 1.0, 1e-12);

    // One expert takes everything: H = 0, 3 unused, counts n,0,0,0 -> mean n/4, std = n*sqrt(3)/4, cv = sqrt 3.
    RoutingTrace one;
    one.reset(4, 1, {0});
    const std::vector<int32_t> tokens(6, 1);
    one.append_rows(tokens, 0);
    const std::vector<int32_t> ids(6, 2);
    const std::vector<float> w(6, 1.0f);
    one.record(0, 6, 0, ids.data(), w.data());
    const auto s1 = routing_load_stats(aggregate_routing(one, 0, 6));
    REQUIRE(s1.size() == 1);
    CHECK_EQ(s1[0].entropy_bits, 0.0);
    CHECK(!std::signbit(s1[0].entropy_bits));
    CHECK_EQ(s1[0].entropy_normalized, 0.0);
    CHECK_EQ(s1[0].unused_experts, 3);
    CHECK_NEAR(s1[0].cv, std::sqrt(3.0), 1e-12);
    CHECK_NEAR(s1[0].max_over_mean, 4.0, 1e-12);
    CHECK_EQ(s1[0].selections, 6);

    // No rows: all zero, every expert unused.
    const auto s0 = routing_load_stats(aggregate_routing(one, 0, 0));
    CHECK_EQ(s0[0].selections, 0);
    CHECK_EQ(s0[0].unused_experts, 4);
    CHECK_EQ(s0[0].cv, 0.0);
}

MOE_TEST(json_round_trip_field_by_field) {
    const RoutingTrace t = make_trace();
    for (int indent : {-1, 2}) {
        const std::string text = routing_trace_to_json(t, 0, t.n_rows(), indent);
        CHECK_EQ(text.find('\n') != std::string::npos, indent >= 0);
        const nlohmann::json j = nlohmann::json::parse(text);
        CHECK(j.at("tokens").get<std::vector<int32_t>>() == (std::vector<int32_t>{10, 11, 12, 13}));
        CHECK(j.at("positions").get<std::vector<int32_t>>() == (std::vector<int32_t>{5, 6, 7, 8}));
        CHECK_EQ(j.at("n_expert").get<int>(), 4);
        CHECK_EQ(j.at("k").get<int>(), 2);
        const auto& layers = j.at("layers");
        REQUIRE(layers.size() == 2);
        const auto stats = routing_load_stats(aggregate_routing(t, 0, t.n_rows()));
        for (int32_t slot = 0; slot < 2; ++slot) {
            const auto& L = layers[static_cast<size_t>(slot)];
            CHECK_EQ(L.at("layer").get<int>(), t.moe_layers()[static_cast<size_t>(slot)]);
            REQUIRE(L.at("experts").size() == 4 && L.at("weights").size() == 4);
            for (int64_t row = 0; row < 4; ++row) {
                const auto ids = L.at("experts")[static_cast<size_t>(row)].get<std::vector<int32_t>>();
                const auto w = L.at("weights")[static_cast<size_t>(row)].get<std::vector<float>>();
                const auto want_ids = t.experts(row, slot);
                const auto want_w = t.weights(row, slot);
                CHECK(ids == std::vector<int32_t>(want_ids.begin(), want_ids.end()));
                CHECK(w == std::vector<float>(want_w.begin(), want_w.end()));  // exact float round trip
            }
            const auto& S = L.at("stats");
            const auto& want = stats[static_cast<size_t>(slot)];
            CHECK_NEAR(S.at("entropy_bits").get<double>(), want.entropy_bits, 1e-12);
            CHECK_NEAR(S.at("entropy_normalized").get<double>(), want.entropy_normalized, 1e-12);
            CHECK_NEAR(S.at("cv").get<double>(), want.cv, 1e-12);
            CHECK_NEAR(S.at("max_over_mean").get<double>(), want.max_over_mean, 1e-12);
            CHECK_EQ(S.at("unused_experts").get<int>(), want.unused_experts);
            CHECK_EQ(S.at("selections").get<int64_t>(), want.selections);
        }
    }
    // Weights are written with the fewest digits: 0.7f appears as 0.7, not 0.699999988079071.
    const std::string compact = routing_trace_to_json(t, 0, t.n_rows());
    CHECK(compact.find("0.7,") != std::string::npos);
    CHECK(compact.find("0.69999") == std::string::npos);

    // A sub-range: rows 2..3 only, with that range's stats.
    const nlohmann::json part = nlohmann::json::parse(routing_trace_to_json(t, 2, 4));
    CHECK(part.at("tokens").get<std::vector<int32_t>>() == (std::vector<int32_t>{12, 13}));
    CHECK_EQ(part.at("layers")[0].at("experts").size(), 2u);
    CHECK_EQ(part.at("layers")[0].at("stats").at("selections").get<int>(), 4);
    // Empty ranges give valid JSON.
    const nlohmann::json none = nlohmann::json::parse(routing_trace_to_json(t, 4, 4));
    CHECK(none.at("tokens").empty());
    CHECK(none.at("layers")[1].at("weights").empty());
}

MOE_TEST(difference_heatmap_sums) {
    const RoutingTrace t = make_trace();
    const RoutingAggregate a = aggregate_routing(t, 0, 2), b = aggregate_routing(t, 2, 4);
    // slot 0 counts: a = {2,1,1,0}/4, b = {2,1,0,1}/4 -> b - a = {0, 0, -.25, .25}.
    const std::vector<double> d = routing_difference(a, b, false);
    REQUIRE(d.size() == 8);
    const double want0[] = {0.0, 0.0, -0.25, 0.25};
    for (int e = 0; e < 4; ++e) CHECK_NEAR(d[e], want0[e], 1e-12);
    // slot 1 counts: a = {1,1,1,1}/4, b = {1,1,1,1}/4 -> 0 everywhere.
    for (int e = 4; e < 8; ++e) CHECK_NEAR(d[e], 0.0, 1e-12);
    for (int slot = 0; slot < 2; ++slot) {
        double sum = 0.0;
        for (int e = 0; e < 4; ++e) sum += d[slot * 4 + e];
        CHECK_NEAR(sum, 0.0, 1e-12);
    }
    // By weight, slot 1: a mass {.25, .75, .5, .5} / 2, b mass {0, 1, .875, .125} / 2.
    const std::vector<double> dw = routing_difference(a, b, true);
    REQUIRE(dw.size() == 8);
    const double want1[] = {-.125, .125, .1875, -.1875};
    for (int e = 0; e < 4; ++e) CHECK_NEAR(dw[4 + e], want1[e], 1e-6);
    double sum = 0.0;
    for (double v : dw) sum += v;
    CHECK_NEAR(sum, 0.0, 1e-9);
    // Against an empty range, the difference is the other distribution itself.
    const RoutingAggregate empty = aggregate_routing(t, 0, 0);
    const std::vector<double> de = routing_difference(empty, b, false);
    CHECK_NEAR(de[0] + de[1] + de[2] + de[3], 1.0, 1e-12);
    CHECK_NEAR(de[3], 0.25, 1e-12);
    // Different models cannot be compared.
    RoutingTrace other;
    other.reset(8, 2, {1, 3});
    CHECK(routing_difference(a, aggregate_routing(other, 0, 0), false).empty());
    other.reset(4, 2, {1, 2});
    CHECK(routing_difference(a, aggregate_routing(other, 0, 0), false).empty());
}

MOE_TEST(record_does_not_reallocate_within_reserve) {
    RoutingTrace t;
    t.reset(64, 6, {1, 2, 3});
    t.reserve(1000);
    const std::vector<int32_t> tok = {7};
    t.append_rows(tok, 0);
    const int32_t* before = t.experts(0, 2).data();
    const int32_t ids[6] = {5, 4, 3, 2, 1, 0};
    const float w[6] = {.3f, .2f, .2f, .1f, .1f, .1f};
    for (int i = 1; i < 1000; ++i) {
        t.append_rows(tok, i);
        t.record(i, 1, 2, ids, w);
    }
    CHECK(t.experts(0, 2).data() == before);  // the storage did not move: no allocation in the steady state
    CHECK_EQ(t.experts(999, 2)[0], 5);
    CHECK_EQ(t.position(999), 999);
}
