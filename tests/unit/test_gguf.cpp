// GGUF writer/reader round trips, typed getters, split models, and the shared fixture models.
#include "check.h"

#include "formats/gguf.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>

using namespace moe;
namespace fs = std::filesystem;

namespace {

std::string tmp(const std::string& name) { return moe_test::temp_dir() + "/" + name; }

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}


// Checks `message` mentions every part (file, key, problem), printing it otherwise.
#define CHECK_MESSAGE(message, ...)                                                           \
    do {                                                                                      \
        const std::string moe_msg_ = (message);                                               \
        for (const char* part : {__VA_ARGS__}) {                                              \
            if (!contains(moe_msg_, part))                                                    \
                ::moe_test::report_failure(__FILE__, __LINE__,                                \
                                           "message '" + moe_msg_ + "' lacks '" + part + "'"); \
        }                                                                                     \
    } while (0)

// Exact equality of two values, NaN-aware for floats (bitwise on the widened double).
bool same_value(const GgufValue& a, const GgufValue& b) {
    if (a.type != b.type) return false;
    switch (a.type) {
        case GgufValueType::Float32: case GgufValueType::Float64:
            return std::memcmp(&a.f, &b.f, sizeof a.f) == 0 || (std::isnan(a.f) && std::isnan(b.f));
        case GgufValueType::String: return a.str == b.str;
        case GgufValueType::Array:
            if (a.elem_type != b.elem_type || a.items.size() != b.items.size()) return false;
            for (size_t j = 0; j < a.items.size(); ++j)
                if (!same_value(a.items[j], b.items[j])) return false;
            return true;
        default: return a.u == b.u && a.i == b.i;
    }
}

GgufValue nested_array(int levels) {  // `levels` arrays around one i32
    GgufValue v = GgufValue::make_i32_array({7});
    for (int l = 1; l < levels; ++l) v = GgufValue::make_array(GgufValueType::Array, {v});
    return v;
}

std::vector<std::pair<std::string, GgufValue>> every_value_type() {
    using V = GgufValue;
    using T = GgufValueType;
    return {
        {"t.u8", V::make_u8(255)},
        {"t.i8", V::make_i8(-128)},
        {"t.u16", V::make_u16(65535)},
        {"t.i16", V::make_i16(-32768)},
        {"t.u32", V::make_u32(4294967295u)},
        {"t.i32", V::make_i32(std::numeric_limits<int32_t>::min())},
        {"t.u64", V::make_u64(std::numeric_limits<uint64_t>::max())},
        {"t.i64", V::make_i64(std::numeric_limits<int64_t>::min())},
        {"t.f32", V::make_f32(-1.5e-7f)},
        {"t.f32_inf", V::make_f32(std::numeric_limits<float>::infinity())},
        {"t.f64", V::make_f64(3.141592653589793)},
        {"t.bool_true", V::make_bool(true)},
        {"t.bool_false", V::make_bool(false)},
        {"t.string", V::make_string("hello")},
        {"t.string_empty", V::make_string("")},
        {"t.string_unicode", V::make_string("<｜begin▁of▁sentence｜> 中文 🙂 ÿ")},
        {"t.string_nul", V::make_string(std::string("a\0b", 3))},
        {"t.arr_u8", V::make_array(T::Uint8, {V::make_u8(0), V::make_u8(200)})},
        {"t.arr_i8", V::make_array(T::Int8, {V::make_i8(-1), V::make_i8(127)})},
        {"t.arr_u16", V::make_array(T::Uint16, {V::make_u16(1), V::make_u16(65000)})},
        {"t.arr_i16", V::make_array(T::Int16, {V::make_i16(-300)})},
        {"t.arr_u32", V::make_array(T::Uint32, {V::make_u32(100000)})},
        {"t.arr_i32", V::make_i32_array({1, -2, 3})},
        {"t.arr_u64", V::make_array(T::Uint64, {V::make_u64(1ull << 40)})},
        {"t.arr_i64", V::make_array(T::Int64, {V::make_i64(-(1ll << 40))})},
        {"t.arr_f32", V::make_f32_array({0.5f, -0.25f})},
        {"t.arr_f64", V::make_array(T::Float64, {V::make_f64(1e300)})},
        {"t.arr_bool", V::make_array(T::Bool, {V::make_bool(true), V::make_bool(false)})},
        {"t.arr_string", V::make_string_array({"Ġ t", "", "中"})},
        {"t.arr_empty", V::make_array(T::Uint32, {})},
        {"t.arr_empty_strings", V::make_string_array({})},
        {"t.arr_nested", V::make_array(T::Array, {V::make_i32_array({1, 2}), V::make_i32_array({}),
                                                   V::make_string_array({"x"})})},
        {"t.arr_deepest", nested_array(k_gguf_max_array_depth)},
    };
}

std::map<std::string, int> type_counts(const GgufModel& model) {
    std::map<std::string, int> counts;
    for (const GgufTensorInfo* t : model.tensors()) ++counts[ggml_type_name(t->type)];
    return counts;
}

}  // namespace

MOE_TEST(every_value_type_round_trips) {
    GgufWriter w;
    const auto values = every_value_type();
    for (const auto& [key, value] : values) w.set(key, value);
    const std::string path = tmp("values.gguf");
    REQUIRE_OK(w.write(path));
    auto f = GgufFile::open(path);
    REQUIRE_OK(f);
    CHECK_EQ(f->version(), 3u);
    CHECK_EQ(f->alignment(), 32u);
    CHECK(!f->has("general.alignment"));  // written only when not the default
    CHECK(f->tensors().empty());
    REQUIRE(f->metadata().size() == values.size());
    for (size_t k = 0; k < values.size(); ++k) {  // same order, same types, same values
        CHECK_EQ(f->metadata()[k].first, values[k].first);
        if (!same_value(f->metadata()[k].second, values[k].second))
            moe_test::report_failure(__FILE__, __LINE__, "value of " + values[k].first + " differs");
    }
    const GgufValue* nested = f->find("t.arr_nested");
    REQUIRE(nested != nullptr);
    CHECK(nested->elem_type == GgufValueType::Array);
    REQUIRE(nested->items.size() == 3u);
    CHECK(nested->items[1].items.empty());
    CHECK(nested->items[2].elem_type == GgufValueType::String);
}

MOE_TEST(set_replaces_in_place) {
    GgufWriter w;
    w.set("a", GgufValue::make_u32(1));
    w.set("b", GgufValue::make_u32(2));
    w.set("a", GgufValue::make_string("again"));
    const std::string path = tmp("replace.gguf");
    REQUIRE_OK(w.write(path));
    auto f = GgufFile::open(path);
    REQUIRE_OK(f);
    REQUIRE(f->metadata().size() == 2u);
    CHECK_EQ(f->metadata()[0].first, std::string("a"));
    CHECK_EQ(f->get_string("a").value(), std::string("again"));
}

MOE_TEST(tensor_data_and_alignment) {
    std::vector<float> a(6), c(16);
    for (size_t j = 0; j < a.size(); ++j) a[j] = 0.5f * static_cast<float>(j);
    for (size_t j = 0; j < c.size(); ++j) c[j] = -1.0f * static_cast<float>(j);
    std::vector<uint8_t> q8(2 * 2 * 34), q4k(144), i8(7), f16(10);
    for (size_t j = 0; j < q8.size(); ++j) q8[j] = static_cast<uint8_t>(j * 7);
    for (size_t j = 0; j < q4k.size(); ++j) q4k[j] = static_cast<uint8_t>(255 - j);
    for (size_t j = 0; j < i8.size(); ++j) i8[j] = static_cast<uint8_t>(j + 1);
    for (uint32_t alignment : {32u, 64u}) {
        GgufWriter w;
        w.set_alignment(alignment);
        w.set("general.architecture", GgufValue::make_string("test"));
        REQUIRE_OK(w.add_tensor("a", GgmlType::F32, {3, 2}, a.data(), a.size() * 4));
        REQUIRE_OK(w.add_tensor("q8", GgmlType::Q8_0, {64, 2}, q8.data(), q8.size()));
        REQUIRE_OK(w.add_tensor("q4k", GgmlType::Q4_K, {256, 1, 1, 1}, q4k.data(), q4k.size()));
        REQUIRE_OK(w.add_tensor("i8", GgmlType::I8, {7}, i8.data(), i8.size()));
        REQUIRE_OK(w.add_tensor("f16", GgmlType::F16, {5}, f16.data(), f16.size()));
        REQUIRE_OK(w.add_tensor("empty", GgmlType::F32, {0, 3}, nullptr, 0));
        REQUIRE_OK(w.add_tensor("c", GgmlType::F32, {4, 2, 2}, c.data(), c.size() * 4));
        const std::string path = tmp("tensors" + std::to_string(alignment) + ".gguf");
        REQUIRE_OK(w.write(path));
        auto f = GgufFile::open(path);
        REQUIRE_OK(f);
        CHECK_EQ(f->alignment(), alignment);
        CHECK_EQ(f->has("general.alignment"), alignment != 32);
        if (alignment != 32) CHECK_EQ(f->get_uint("general.alignment").value(), uint64_t{alignment});
        CHECK_EQ(f->data_offset() % alignment, 0u);
        REQUIRE(f->tensors().size() == 7u);
        uint64_t expected_size = f->data_offset();
        for (const GgufTensorInfo& t : f->tensors()) {
            CHECK_EQ(t.offset % alignment, 0u);
            expected_size += (t.n_bytes + alignment - 1) / alignment * alignment;
        }
        CHECK_EQ(f->file_size(), expected_size);  // every tensor, the last included, is padded
        const GgufTensorInfo* ta = f->find_tensor("a");
        REQUIRE(ta != nullptr);
        CHECK_EQ(ta->n_dims, 2u);
        CHECK_EQ(ta->ne[0], 3u);
        CHECK_EQ(ta->ne[1], 2u);
        CHECK_EQ(ta->ne[2], 1u);
        CHECK_EQ(ta->n_elements, 6u);
        CHECK(std::memcmp(ta->data, a.data(), 24) == 0);
        const GgufTensorInfo* tq8 = f->find_tensor("q8");
        REQUIRE(tq8 != nullptr);
        CHECK(tq8->type == GgmlType::Q8_0);
        CHECK_EQ(tq8->n_bytes, 136u);
        CHECK(std::memcmp(tq8->data, q8.data(), q8.size()) == 0);
        CHECK_EQ(f->find_tensor("q4k")->n_dims, 4u);
        CHECK(std::memcmp(f->find_tensor("q4k")->data, q4k.data(), q4k.size()) == 0);
        CHECK(std::memcmp(f->find_tensor("i8")->data, i8.data(), i8.size()) == 0);
        CHECK_EQ(f->find_tensor("empty")->n_bytes, 0u);
        CHECK(std::memcmp(f->find_tensor("c")->data, c.data(), c.size() * 4) == 0);
        CHECK(f->find_tensor("missing") == nullptr);
    }
}

MOE_TEST(alignment_through_set) {
    GgufWriter w;
    w.set("general.alignment", GgufValue::make_u32(128));
    CHECK_EQ(w.alignment(), 128u);
    std::vector<float> x(4, 1.0f);
    REQUIRE_OK(w.add_tensor("x", GgmlType::F32, {4}, x.data(), 16));
    const std::string path = tmp("align128.gguf");
    REQUIRE_OK(w.write(path));
    auto f = GgufFile::open(path);
    REQUIRE_OK(f);
    CHECK_EQ(f->alignment(), 128u);
    CHECK_EQ(f->data_offset(), 128u);
    CHECK_EQ(f->file_size(), 256u);

    GgufWriter bad;
    bad.set("general.alignment", GgufValue::make_i32(64));
    auto s = bad.write(tmp("bad_align_type.gguf"));
    CHECK(!s.ok());
    CHECK_MESSAGE(s.message(), "bad_align_type.gguf", "general.alignment", "expected u32, found i32");
    GgufWriter odd;
    odd.set_alignment(48);
    s = odd.write(tmp("bad_align.gguf"));
    CHECK_MESSAGE(s.message(), "bad_align.gguf", "48", "not a power of two");
}

MOE_TEST(add_tensor_refuses_bad_tensors) {
    std::vector<uint8_t> buf(1024);
    GgufWriter w;
    REQUIRE_OK(w.add_tensor("t", GgmlType::F32, {4}, buf.data(), 16));
    CHECK_MESSAGE(w.add_tensor("t", GgmlType::F32, {4}, buf.data(), 16).message(), "'t'", "duplicate");
    CHECK_MESSAGE(w.add_tensor(std::string(65, 'n'), GgmlType::F32, {4}, buf.data(), 16).message(), "65 bytes",
                  "limit of 64");
    REQUIRE_OK(w.add_tensor(std::string(64, 'n'), GgmlType::F32, {4}, buf.data(), 16));
    CHECK_MESSAGE(w.add_tensor("", GgmlType::F32, {4}, buf.data(), 16).message(), "empty name");
    CHECK_MESSAGE(w.add_tensor("z", GgmlType::F32, {}, buf.data(), 16).message(), "'z'", "0 dimensions");
    CHECK_MESSAGE(w.add_tensor("f", GgmlType::F32, {1, 1, 1, 1, 1}, buf.data(), 4).message(), "'f'",
                  "5 dimensions");
    CHECK_MESSAGE(w.add_tensor("b", GgmlType::F32, {4}, buf.data(), 15).message(), "'b'", "15 bytes given",
                  "needs 16");
    CHECK_MESSAGE(w.add_tensor("r", GgmlType::Q8_0, {48}, buf.data(), 51).message(), "'r'", "row length 48",
                  "block size 32");
    CHECK_MESSAGE(w.add_tensor("o", GgmlType::F32, {1ull << 32, 1ull << 32}, buf.data(), 0).message(), "'o'",
                  "overflows");
    CHECK_MESSAGE(w.add_tensor("e", GgmlType::F8_E4M3_B128, {4}, buf.data(), 4).message(), "'e'",
                  "cannot be stored");
    CHECK_MESSAGE(w.add_tensor("n", GgmlType::F32, {4}, nullptr, 16).message(), "'n'", "no data");
}

MOE_TEST(write_refuses_bad_values) {
    const auto refused = [](const std::string& key, GgufValue value) {
        GgufWriter w;
        w.set(key, std::move(value));
        const std::string path = tmp("bad_value.gguf");
        auto s = w.write(path);
        CHECK(!s.ok());
        CHECK(!fs::exists(path));  // nothing half-written is left behind
        return s.message();
    };
    GgufValue big_u8 = GgufValue::make_u8(0);
    big_u8.u = 300;
    CHECK_MESSAGE(refused("k.u8", big_u8), "bad_value.gguf", "key 'k.u8'", "300 does not fit u8");
    GgufValue small_i16 = GgufValue::make_i16(0);
    small_i16.i = -40000;
    CHECK_MESSAGE(refused("k.i16", small_i16), "key 'k.i16'", "-40000 does not fit i16");
    GgufValue bool2 = GgufValue::make_bool(true);
    bool2.u = 2;
    CHECK_MESSAGE(refused("k.bool", bool2), "key 'k.bool'", "2 does not fit bool");
    auto mixed = GgufValue::make_array(GgufValueType::Int32, {GgufValue::make_i32(1), GgufValue::make_u32(2)});
    CHECK_MESSAGE(refused("k.mixed", mixed), "key 'k.mixed'", "item 1 is u32, expected i32");
    auto bad_item = GgufValue::make_array(GgufValueType::Uint8, {GgufValue::make_u8(1), big_u8});
    CHECK_MESSAGE(refused("k.items", bad_item), "key 'k.items'[1]", "300 does not fit u8");
    CHECK_MESSAGE(refused("k.deep", nested_array(k_gguf_max_array_depth + 1)), "key 'k.deep'", "nested deeper");
    GgufValue unknown;
    unknown.type = static_cast<GgufValueType>(13);
    CHECK_MESSAGE(refused("k.type", unknown), "key 'k.type'", "unknown value type 13");
    CHECK_MESSAGE(refused(std::string(70000, 'k'), GgufValue::make_u8(1)), "70000 bytes");
}

MOE_TEST(typed_getters_and_messages) {
    GgufWriter w;
    w.set("neg", GgufValue::make_i32(-5));
    w.set("pos", GgufValue::make_i8(5));
    w.set("huge", GgufValue::make_u64(std::numeric_limits<uint64_t>::max()));
    w.set("u16", GgufValue::make_u16(513));
    w.set("flt", GgufValue::make_f32(0.25f));
    w.set("flag", GgufValue::make_bool(true));
    w.set("name", GgufValue::make_string("deepseek2"));
    w.set("ids", GgufValue::make_i32_array({1, -2}));
    w.set("uids", GgufValue::make_array(GgufValueType::Uint64, {GgufValue::make_u64(1ull << 63)}));
    w.set("words", GgufValue::make_string_array({"a", "b"}));
    w.set("mixed", GgufValue::make_array(GgufValueType::Array, {GgufValue::make_string_array({"x"})}));
    const std::string path = tmp("getters.gguf");
    REQUIRE_OK(w.write(path));
    auto f = GgufFile::open(path);
    REQUIRE_OK(f);

    CHECK_EQ(f->get_uint("u16").value(), 513u);
    CHECK_EQ(f->get_uint("pos").value(), 5u);
    CHECK_EQ(f->get_int("neg").value(), -5);
    CHECK_EQ(f->get_int("u16").value(), 513);
    CHECK_EQ(f->get_uint("huge").value(), std::numeric_limits<uint64_t>::max());
    CHECK_NEAR(f->get_float("flt").value(), 0.25, 0);
    CHECK_NEAR(f->get_float("neg").value(), -5.0, 0);  // integers are numbers
    CHECK_EQ(f->get_bool("flag").value(), true);
    CHECK_EQ(f->get_string("name").value(), std::string("deepseek2"));
    CHECK(f->get_int_array("ids").value() == std::vector<int64_t>({1, -2}));
    CHECK(f->get_float_array("ids").value() == std::vector<double>({1.0, -2.0}));
    CHECK(f->get_string_array("words").value() == std::vector<std::string>({"a", "b"}));

    CHECK_MESSAGE(f->get_uint("nope").error(), "getters.gguf: key 'nope': missing");
    CHECK_MESSAGE(f->get_string("nope").error(), "getters.gguf", "'nope'", "missing");
    CHECK_MESSAGE(f->get_uint("neg").error(), "getters.gguf", "key 'neg'", "non-negative", "-5");
    CHECK_MESSAGE(f->get_int("huge").error(), "key 'huge'", "too large");
    CHECK_MESSAGE(f->get_uint("name").error(), "key 'name'", "expected an unsigned integer, found string");
    CHECK_MESSAGE(f->get_uint("flag").error(), "key 'flag'", "found bool");
    CHECK_MESSAGE(f->get_string("u16").error(), "key 'u16'", "expected string, found u16");
    CHECK_MESSAGE(f->get_bool("u16").error(), "key 'u16'", "expected bool, found u16");
    CHECK_MESSAGE(f->get_float("name").error(), "key 'name'", "expected a number, found string");
    CHECK_MESSAGE(f->get_string_array("ids").error(), "key 'ids'", "array of strings, found array of i32");
    CHECK_MESSAGE(f->get_int_array("name").error(), "key 'name'", "found string");
    CHECK_MESSAGE(f->get_int_array("words").error(), "key 'words[0]'", "expected an integer, found string");
    CHECK_MESSAGE(f->get_int_array("uids").error(), "key 'uids[0]'", "too large");
    CHECK_MESSAGE(f->get_float_array("mixed").error(), "key 'mixed[0]'", "found array");
}

MOE_TEST(split_names) {
    CHECK_EQ(gguf_split_path("dir/m", 2, 3), std::string("dir/m-00002-of-00003.gguf"));
    std::string prefix;
    uint32_t no = 0, count = 0;
    CHECK(gguf_parse_split_path("dir/m-00002-of-00003.gguf", prefix, no, count));
    CHECK_EQ(prefix, std::string("dir/m"));
    CHECK_EQ(no, 2u);
    CHECK_EQ(count, 3u);
    CHECK(!gguf_parse_split_path("dir/m-00004-of-00003.gguf", prefix, no, count));
    CHECK(!gguf_parse_split_path("dir/m-00000-of-00003.gguf", prefix, no, count));
    CHECK(!gguf_parse_split_path("dir/m-0002-of-00003.gguf", prefix, no, count));
    CHECK(!gguf_parse_split_path("dir/m-00002-of-00003.bin", prefix, no, count));
    CHECK(!gguf_parse_split_path("m.gguf", prefix, no, count));
    CHECK(!gguf_parse_split_path("-00001-of-00001.gguf", prefix, no, count));  // no prefix
}

namespace {

// Five F32 tensors of 64 bytes; a 128-byte limit gives shards of 2 + 2 + 1 tensors.
struct SplitSource {
    std::vector<std::vector<float>> data;
    GgufWriter writer;
    SplitSource() {
        writer.set("general.architecture", GgufValue::make_string("deepseek2"));
        writer.set("deepseek2.block_count", GgufValue::make_u32(27));
        writer.set("split.count", GgufValue::make_u16(9));  // stale keys from a source file are replaced
        for (int t = 0; t < 5; ++t) {
            data.emplace_back(16, static_cast<float>(t));
            const std::string name = std::string(1, 't') + char('0' + t);  // (GCC 12 -Wrestrict false positive)
            const Status s = writer.add_tensor(name, GgmlType::F32, {16}, data.back().data(), 64);
            assert(s.ok());
        }
    }
};

}  // namespace

MOE_TEST(split_write_and_open) {
    SplitSource src;
    const std::string dir = tmp("split");
    fs::create_directories(dir);
    auto paths = src.writer.write_split(dir + "/model.gguf", 128);
    REQUIRE_OK(paths);
    REQUIRE(paths->size() == 3u);
    CHECK_EQ((*paths)[0], dir + "/model-00001-of-00003.gguf");
    CHECK_EQ((*paths)[2], dir + "/model-00003-of-00003.gguf");
    uint64_t sum_bytes = 0;
    for (size_t s = 0; s < 3; ++s) {
        auto shard = GgufFile::open((*paths)[s]);
        REQUIRE_OK(shard);
        sum_bytes += shard->file_size();
        CHECK_EQ(shard->get_uint("split.no").value(), s);
        CHECK(shard->find("split.no")->type == GgufValueType::Uint16);
        CHECK(shard->find("split.count")->type == GgufValueType::Uint16);
        CHECK(shard->find("split.tensors.count")->type == GgufValueType::Int32);
        CHECK_EQ(shard->get_uint("split.count").value(), 3u);
        CHECK_EQ(shard->get_int("split.tensors.count").value(), 5);
        CHECK_EQ(shard->has("general.architecture"), s == 0);  // metadata only in the first shard
        CHECK_EQ(shard->metadata().size(), s == 0 ? 5u : 3u);
        CHECK_EQ(shard->tensors().size(), s < 2 ? 2u : 1u);
    }
    for (const std::string& open_path : {(*paths)[0], (*paths)[1]}) {  // any shard opens the set
        auto model = GgufModel::open(open_path);
        REQUIRE_OK(model);
        CHECK_EQ(model->files().size(), 3u);
        CHECK_EQ(model->tensors().size(), 5u);
        CHECK_EQ(model->total_bytes(), sum_bytes);
        CHECK_EQ(model->primary().get_uint("deepseek2.block_count").value(), 27u);
        for (int t = 0; t < 5; ++t) {
            const GgufTensorInfo* info = model->find_tensor("t" + std::to_string(t));
            REQUIRE(info != nullptr);
            CHECK(std::memcmp(info->data, src.data[t].data(), 64) == 0);
        }
        GgufModel copy = *model;  // the copy's index points into its own files
        model = GgufModel();
        CHECK_EQ(copy.find_tensor("t4"), copy.tensors()[4]);
        CHECK_EQ(copy.find_tensor("t4"), &copy.files()[2].tensors()[0]);
    }
    // A single huge limit gives one shard, still named and keyed as a split.
    auto one = src.writer.write_split(dir + "/one", 1ull << 40);
    REQUIRE_OK(one);
    CHECK_EQ(one->size(), 1u);
    CHECK_EQ(GgufModel::open(one->front()).value().tensors().size(), 5u);
}

MOE_TEST(split_missing_and_inconsistent_shards) {
    SplitSource src;
    const std::string dir = tmp("split_bad");
    fs::create_directories(dir);
    auto paths = src.writer.write_split(dir + "/m", 128);
    REQUIRE_OK(paths);
    const std::string second = (*paths)[1];
    fs::rename(second, dir + "/aside.gguf");
    auto missing = GgufModel::open((*paths)[0]);
    CHECK(!missing.ok());
    CHECK_MESSAGE(missing.error(), "m-00002-of-00003.gguf", "missing", "shard 2 of 3");

    // Shard 2 renamed as shard 3's name: split.no disagrees with the name.
    fs::rename((*paths)[2], dir + "/third.gguf");
    fs::copy_file(dir + "/aside.gguf", second);
    fs::copy_file(dir + "/aside.gguf", (*paths)[2]);
    auto wrong_no = GgufModel::open((*paths)[0]);
    CHECK_MESSAGE(wrong_no.error(), "m-00003-of-00003.gguf", "key 'split.no'", "1, expected 2");

    // Two shards holding the same tensor (the same file twice under both names).
    GgufWriter dup;
    std::vector<float> x(16, 1.0f);
    REQUIRE_OK(dup.add_tensor("t0", GgmlType::F32, {16}, x.data(), 64));
    dup.set("split.no", GgufValue::make_u16(2));
    dup.set("split.count", GgufValue::make_u16(3));
    dup.set("split.tensors.count", GgufValue::make_i32(5));
    fs::remove((*paths)[2]);
    REQUIRE_OK(dup.write((*paths)[2]));
    auto twice = GgufModel::open((*paths)[0]);
    CHECK_MESSAGE(twice.error(), "m-00003-of-00003.gguf", "tensor 't0'", "m-00001-of-00003.gguf", "exactly one shard");

    // The right shards, but split.tensors.count disagrees with what they hold.
    fs::remove((*paths)[2]);
    fs::rename(dir + "/third.gguf", (*paths)[2]);
    REQUIRE_OK(GgufModel::open((*paths)[0]));
    GgufWriter short_count;
    std::vector<float> y(16, 2.0f);
    REQUIRE_OK(short_count.add_tensor("t4", GgmlType::F32, {16}, y.data(), 64));
    short_count.set("split.no", GgufValue::make_u16(2));
    short_count.set("split.count", GgufValue::make_u16(3));
    short_count.set("split.tensors.count", GgufValue::make_i32(6));
    REQUIRE_OK(short_count.write((*paths)[2]));
    CHECK_MESSAGE(GgufModel::open((*paths)[1]).error(), "key 'split.tensors.count'", "6", "hold 5 tensors");

    // A shard renamed to a plain name would load as a partial model: refused.
    const std::string renamed = dir + "/renamed.gguf";
    fs::copy_file(dir + "/aside.gguf", renamed);
    CHECK_MESSAGE(GgufModel::open(renamed).error(), "renamed.gguf", "split.count", "one shard of a split model");
}

MOE_TEST(single_file_model) {
    std::vector<float> x(8, 3.0f);
    GgufWriter w;
    w.set("general.architecture", GgufValue::make_string("deepseek"));
    REQUIRE_OK(w.add_tensor("x", GgmlType::F32, {8}, x.data(), 32));
    const std::string path = tmp("single.gguf");
    REQUIRE_OK(w.write(path));
    auto model = GgufModel::open(path);
    REQUIRE_OK(model);
    CHECK_EQ(model->files().size(), 1u);
    CHECK_EQ(model->total_bytes(), fs::file_size(path));
    CHECK(model->find_tensor("x") != nullptr);
    CHECK_MESSAGE(GgufModel::open(tmp("absent.gguf")).error(), "absent.gguf", "cannot open");
}

namespace {

struct FixtureModel {
    const char* file;
    const char* arch;
    uint64_t block_count;
    size_t n_tensors;
    std::map<std::string, int> types;
    uint64_t expert_count;
};

}  // namespace

MOE_TEST(fixture_models) {
    const FixtureModel models[] = {
        {"fx-ds2-lite-f32.gguf", "deepseek2", 27, 377, {{"f32", 377}}, 16},
        {"fx-ds2-lite-q8_0.gguf", "deepseek2", 27, 377, {{"f32", 108}, {"q8_0", 269}}, 16},
        {"fx-ds2-v3-f32.gguf", "deepseek2", 4, 66, {{"f32", 66}}, 16},
        {"fx-ds2-v3-q8_0.gguf", "deepseek2", 4, 66, {{"f32", 23}, {"q8_0", 43}}, 16},
        {"fx-ds1-f32.gguf", "deepseek", 4, 51, {{"f32", 51}}, 16},
        {"fx-ds1-q8_0.gguf", "deepseek", 4, 51, {{"f32", 12}, {"q8_0", 39}}, 16},
        {"fx-ds2-v3q-q4_k_m.gguf", "deepseek2", 3, 49,
         {{"f32", 17}, {"q4_K", 20}, {"q5_0", 6}, {"q5_K", 3}, {"q6_K", 3}}, 8},
    };
    int found = 0;
    for (const FixtureModel& m : models) {
        const std::string path = moe_test::shared_fixture(std::string("models/") + m.file);
        if (path.empty()) continue;
        ++found;
        auto model = GgufModel::open(path);
        REQUIRE_OK(model);
        const GgufFile& f = model->primary();
        const std::string arch = m.arch;
        CHECK_EQ(f.version(), 3u);
        CHECK_EQ(f.get_string("general.architecture").value(), arch);
        CHECK_EQ(f.get_uint(arch + ".block_count").value(), m.block_count);
        CHECK_EQ(f.get_uint(arch + ".expert_count").value(), m.expert_count);
        CHECK_EQ(f.get_uint(arch + ".vocab_size").value(), 514u);
        CHECK_EQ(f.get_string_array("tokenizer.ggml.tokens").value().size(), 514u);
        CHECK_EQ(f.get_string_array("tokenizer.ggml.merges").value().size(), 256u);
        CHECK_EQ(f.get_string("tokenizer.ggml.pre").value(), std::string("deepseek-llm"));
        CHECK_EQ(f.get_uint("tokenizer.ggml.bos_token_id").value(), 512u);
        CHECK_EQ(f.get_uint("tokenizer.ggml.eos_token_id").value(), 513u);
        CHECK_EQ(f.get_bool("tokenizer.ggml.add_bos_token").value(), true);
        CHECK_NEAR(f.get_float(arch + ".attention.layer_norm_rms_epsilon").value(), 1e-6, 1e-12);
        CHECK_EQ(model->tensors().size(), m.n_tensors);
        CHECK(type_counts(*model) == m.types);
        CHECK_EQ(model->total_bytes(), fs::file_size(path));
        const GgufTensorInfo* embd = model->find_tensor("token_embd.weight");
        REQUIRE(embd != nullptr);
        CHECK_EQ(embd->ne[1], 514u);  // {n_embd, n_vocab}
    }
    if (found == 0) MOE_SKIP("shared fixture models absent");
    const std::string lite = moe_test::shared_fixture("models/fx-ds2-lite-f32.gguf");
    if (!lite.empty()) {
        auto f = GgufFile::open(lite).value();
        CHECK(!f.has("deepseek2.attention.q_lora_rank"));  // Lite: no q_lora
        CHECK_NEAR(f.get_float("deepseek2.rope.scaling.yarn_log_multiplier").value(), 0.0707, 1e-6);
        CHECK_EQ(f.find_tensor("blk.0.attn_q.weight")->ne[1], 128u);  // {d, H*(nope+rope)}
    }
}

MOE_TEST(fixture_vocabs) {
    struct Vocab {
        const char* file;
        const char* pre;
        size_t n_tokens, n_merges;
        uint64_t bos, eos;
    };
    const Vocab vocabs[] = {
        {"vocab/ggml-vocab-deepseek-llm.gguf", "deepseek-llm", 102400, 99757, 100000, 100001},
        {"vocab/ggml-vocab-deepseek-coder.gguf", "deepseek-coder", 32256, 31757, 32013, 32014},
    };
    int found = 0;
    for (const Vocab& v : vocabs) {
        const std::string path = moe_test::shared_fixture(v.file);
        if (path.empty()) continue;
        ++found;
        auto f = GgufFile::open(path);
        REQUIRE_OK(f);
        CHECK(f->tensors().empty());
        CHECK_EQ(f->get_string("general.architecture").value(), std::string("llama"));
        CHECK_EQ(f->get_string("tokenizer.ggml.model").value(), std::string("gpt2"));
        CHECK_EQ(f->get_string("tokenizer.ggml.pre").value(), std::string(v.pre));
        CHECK_EQ(f->get_string_array("tokenizer.ggml.tokens").value().size(), v.n_tokens);
        CHECK_EQ(f->get_string_array("tokenizer.ggml.merges").value().size(), v.n_merges);
        CHECK_EQ(f->get_int_array("tokenizer.ggml.token_type").value().size(), v.n_tokens);
        CHECK_EQ(f->get_uint("tokenizer.ggml.bos_token_id").value(), v.bos);
        CHECK_EQ(f->get_uint("tokenizer.ggml.eos_token_id").value(), v.eos);
    }
    if (found == 0) MOE_SKIP("shared vocab GGUFs absent");
}

// Re-writing a fixture with GgufWriter (same keys, tensors, order) reproduces the file byte for byte:
// the writer follows the same layout as gguf-py / llama.cpp.
MOE_TEST(fixture_rewrite_is_byte_identical) {
    const std::string path = moe_test::shared_fixture("models/fx-ds2-v3q-q4_k_m.gguf");
    if (path.empty()) MOE_SKIP("shared fixture models absent");
    auto f = GgufFile::open(path);
    REQUIRE_OK(f);
    GgufWriter w;
    for (const auto& [key, value] : f->metadata()) w.set(key, value);
    for (const GgufTensorInfo& t : f->tensors())
        REQUIRE_OK(w.add_tensor(t.name, t.type, std::vector<uint64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
                                t.data, t.n_bytes));
    const std::string out = tmp("rewrite.gguf");
    REQUIRE_OK(w.write(out));
    CHECK(read_bytes(out) == read_bytes(path));
}
