// safetensors: dtype table, writer -> reader round trips, sharded folders and their index.
#include "check.h"
#include "core/mapped_file.h"
#include "formats/safetensors.h"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace moe;
namespace fs = std::filesystem;


namespace {

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
    return v;
}

std::string fresh_dir(const std::string& name) {
    const fs::path p = fs::path(moe_test::temp_dir()) / name;
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string read_all(const std::string& path) {
    auto text = read_text_file(path);
    return text ? *text : std::string();
}

}  // namespace

MOE_TEST(dtype_names_bits_and_ggml_mapping) {
    for (int i = 0; i < k_safetensors_dtype_count; ++i) {
        const auto dtype = static_cast<SafetensorsDtype>(i);
        const auto back = safetensors_dtype_from_name(safetensors_dtype_name(dtype));
        REQUIRE(back.has_value());
        CHECK(*back == dtype);
        CHECK(safetensors_dtype_bits(dtype) > 0);
    }
    CHECK(!safetensors_dtype_from_name("f32").has_value());  // names are case-sensitive
    CHECK(!safetensors_dtype_from_name("F8_E4M3FN").has_value());
    CHECK_EQ(safetensors_dtype_bits(SafetensorsDtype::BF16), 16u);
    CHECK_EQ(safetensors_dtype_bits(SafetensorsDtype::C64), 64u);
    CHECK_EQ(safetensors_dtype_bits(SafetensorsDtype::F8_E8M0), 8u);
    CHECK_EQ(safetensors_dtype_bits(SafetensorsDtype::F4), 4u);
    CHECK_EQ(safetensors_dtype_bits(SafetensorsDtype::F6_E3M2), 6u);
    CHECK_EQ(safetensors_bytes(SafetensorsDtype::F4, 6).value_or(99), 3u);
    CHECK(!safetensors_bytes(SafetensorsDtype::F4, 3).has_value());       // 12 bits
    CHECK_EQ(safetensors_bytes(SafetensorsDtype::F6_E2M3, 4).value_or(99), 3u);       // 24 bits
    CHECK(!safetensors_bytes(SafetensorsDtype::F6_E2M3, 2).has_value());  // 12 bits
    CHECK(!safetensors_bytes(SafetensorsDtype::F64, UINT64_MAX / 2).has_value());
    CHECK(safetensors_to_ggml(SafetensorsDtype::F32) == GgmlType::F32);
    CHECK(safetensors_to_ggml(SafetensorsDtype::F16) == GgmlType::F16);
    CHECK(safetensors_to_ggml(SafetensorsDtype::BF16) == GgmlType::BF16);
    CHECK(!safetensors_to_ggml(SafetensorsDtype::F8_E4M3).has_value());
    CHECK(!safetensors_to_ggml(SafetensorsDtype::U8).has_value());
    CHECK_EQ(safetensors_element_count({}).value_or(99), 1u);
    CHECK_EQ(safetensors_element_count({3, 0, UINT64_MAX}).value_or(99), 0u);
    CHECK(!safetensors_element_count({1ull << 32, 1ull << 32}).has_value());
}

MOE_TEST(round_trip_every_dtype_with_metadata) {
    // One tensor per dtype, shape [2, 4] (8 elements: whole bytes even for F4 and F6).
    std::vector<std::vector<uint8_t>> buffers;
    SafetensorsWriter writer;
    for (int i = 0; i < k_safetensors_dtype_count; ++i) {
        const auto dtype = static_cast<SafetensorsDtype>(i);
        buffers.push_back(pattern(*safetensors_bytes(dtype, 8), static_cast<uint8_t>(i)));
        REQUIRE_OK(writer.add_tensor(std::string("t.") + safetensors_dtype_name(dtype), dtype, {2, 4},
                                     buffers.back().data(), buffers.back().size()));
    }
    const std::vector<uint8_t> scalar = pattern(4, 99);
    REQUIRE_OK(writer.add_tensor("scalar", SafetensorsDtype::F32, {}, scalar.data(), 4));
    REQUIRE_OK(writer.add_tensor("empty", SafetensorsDtype::BF16, {0, 7}, nullptr, 0));
    const std::vector<uint8_t> deep = pattern(8, 3);  // 9 dims: fine for safetensors, reported as-is
    REQUIRE_OK(writer.add_tensor("deep", SafetensorsDtype::U8, {1, 2, 1, 2, 1, 2, 1, 1, 1}, deep.data(), 8));
    REQUIRE_OK(writer.set_metadata("format", "pt"));
    REQUIRE_OK(writer.set_metadata("note", "ünïcode \"quoted\"\n"));

    const std::string path = fresh_dir("all_dtypes") + "/all.safetensors";
    REQUIRE_OK(writer.write(path));
    auto file = SafetensorsFile::open(path);
    REQUIRE_OK(file);
    CHECK_EQ(file->header_bytes() % 8, 0u);
    CHECK_EQ(file->tensors().size(), static_cast<size_t>(k_safetensors_dtype_count) + 3);
    CHECK_EQ(file->metadata().size(), 2u);
    CHECK_EQ(file->metadata().at("format"), std::string("pt"));
    CHECK_EQ(file->metadata().at("note"), std::string("ünïcode \"quoted\"\n"));
    for (int i = 0; i < k_safetensors_dtype_count; ++i) {
        const auto dtype = static_cast<SafetensorsDtype>(i);
        const SafetensorsTensor* t = file->find_tensor(std::string("t.") + safetensors_dtype_name(dtype));
        REQUIRE(t != nullptr);
        CHECK(t->dtype == dtype);
        CHECK(t->shape == (std::vector<uint64_t>{2, 4}));
        CHECK_EQ(t->n_elements, 8u);
        CHECK_EQ(t->n_bytes, buffers[i].size());
        CHECK(std::memcmp(t->data, buffers[i].data(), t->n_bytes) == 0);
        CHECK(file->tensors()[i].name == t->name);  // data order == order added
    }
    const SafetensorsTensor* s = file->find_tensor("scalar");
    REQUIRE(s != nullptr);
    CHECK(s->shape.empty());
    CHECK_EQ(s->n_elements, 1u);
    CHECK(std::memcmp(s->data, scalar.data(), 4) == 0);
    const SafetensorsTensor* e = file->find_tensor("empty");
    REQUIRE(e != nullptr);
    CHECK_EQ(e->n_elements, 0u);
    CHECK_EQ(e->n_bytes, 0u);
    CHECK(e->shape == (std::vector<uint64_t>{0, 7}));
    const SafetensorsTensor* d = file->find_tensor("deep");
    REQUIRE(d != nullptr);
    CHECK_EQ(d->shape.size(), 9u);
    CHECK(file->find_tensor("missing") == nullptr);
    CHECK_EQ(file->file_size(), file->data_offset() + writer.data_bytes());
}

MOE_TEST(writer_header_layout) {
    // Exact bytes: length, compact JSON in insertion order, space padding to 8, contiguous data.
    const float values[6] = {0, 1, 2, 3, 4, 5};
    SafetensorsWriter writer;
    REQUIRE_OK(writer.add_tensor("b", SafetensorsDtype::F32, {1, 2, 3}, values, 24));
    REQUIRE_OK(writer.add_tensor("a", SafetensorsDtype::F32, {2}, values, 8));
    const std::string path = fresh_dir("layout") + "/x.safetensors";
    REQUIRE_OK(writer.write(path));
    const std::string bytes = read_all(path);
    const std::string json =
        R"({"b":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]},"a":{"dtype":"F32","shape":[2],"data_offsets":[24,32]}})";
    const size_t padded = (json.size() + 7) / 8 * 8;
    REQUIRE(bytes.size() == 8 + padded + 32);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    CHECK_EQ(n, padded);
    CHECK_EQ(bytes.substr(8, json.size()), json);
    CHECK_EQ(bytes.substr(8 + json.size(), padded - json.size()), std::string(padded - json.size(), ' '));
    CHECK(std::memcmp(bytes.data() + 8 + padded, values, 24) == 0);
    CHECK(std::memcmp(bytes.data() + 8 + padded + 24, values, 8) == 0);
}

MOE_TEST(reads_other_producers_layouts) {
    // Pretty-printed JSON, keys in another order than the data, trailing spaces, no metadata.
    const std::string header = "{\n  \"second\": {\"shape\": [2], \"data_offsets\": [2, 6], \"dtype\": \"I16\"},\n"
                               "  \"first\": {\"data_offsets\": [0, 2], \"dtype\": \"U8\", \"shape\": [2]},\n"
                               "  \"__metadata__\": null\n}   ";
    std::vector<uint8_t> bytes(8);
    const uint64_t n = header.size();
    std::memcpy(bytes.data(), &n, 8);
    bytes.insert(bytes.end(), header.begin(), header.end());
    for (uint8_t b : {1, 2, 3, 4, 5, 6}) bytes.push_back(b);
    auto file = SafetensorsFile::parse(bytes.data(), bytes.size(), "other.safetensors");
    REQUIRE_OK(file);
    REQUIRE(file->tensors().size() == 2);
    CHECK_EQ(file->tensors()[0].name, std::string("first"));  // data order
    CHECK_EQ(file->tensors()[1].name, std::string("second"));
    CHECK_EQ(file->tensors()[1].data[0], 3);
    CHECK_EQ(file->tensors()[1].data_offset, 2u);
    CHECK(file->metadata().empty());
}

MOE_TEST(empty_file_round_trip) {
    SafetensorsWriter writer;
    const std::string path = fresh_dir("empty") + "/e.safetensors";
    REQUIRE_OK(writer.write(path));
    auto file = SafetensorsFile::open(path);
    REQUIRE_OK(file);
    CHECK(file->tensors().empty());
    CHECK_EQ(file->file_size(), 16u);  // 8 + "{}" padded to 8
}

MOE_TEST(writer_refuses_bad_tensors) {
    const uint8_t data[16] = {};
    SafetensorsWriter writer;
    REQUIRE_OK(writer.add_tensor("x", SafetensorsDtype::F32, {2, 2}, data, 16));
    CHECK(!writer.add_tensor("x", SafetensorsDtype::F32, {2, 2}, data, 16).ok());          // duplicate
    CHECK(!writer.add_tensor("y", SafetensorsDtype::F32, {2, 2}, data, 12).ok());          // wrong size
    CHECK(!writer.add_tensor("z", SafetensorsDtype::F4, {3}, data, 1).ok());               // 12 bits
    CHECK(!writer.add_tensor("__metadata__", SafetensorsDtype::U8, {1}, data, 1).ok());    // reserved
    CHECK(!writer.add_tensor("bad\xff", SafetensorsDtype::U8, {1}, data, 1).ok());         // not UTF-8
    CHECK(!writer.add_tensor("big", SafetensorsDtype::U8, {1ull << 40, 1ull << 40}, data, 0).ok());
    CHECK(!writer.set_metadata("k", "\xc0\x80").ok());
    const Status s = writer.add_tensor("y", SafetensorsDtype::F32, {2, 2}, data, 12);
    CHECK(contains(s.message(), "'y'"));
    CHECK(contains(s.message(), "16"));
    CHECK_EQ(writer.tensor_count(), 1u);
}

MOE_TEST(sharded_folder_round_trip) {
    // Five F32 tensors of 40 bytes, shards of at most 100 bytes: [a b] [c d] [e] -> 3 shards.
    std::vector<std::vector<uint8_t>> data;
    SafetensorsWriter writer;
    const char* names[5] = {"model.embed_tokens.weight", "model.layers.0.mlp.gate.weight", "model.norm.weight",
                            "lm_head.weight", "model.layers.0.self_attn.o_proj.weight"};
    for (int i = 0; i < 5; ++i) {
        data.push_back(pattern(40, static_cast<uint8_t>(10 * i)));
        REQUIRE_OK(writer.add_tensor(names[i], SafetensorsDtype::F32, {2, 5}, data.back().data(), 40));
    }
    REQUIRE_OK(writer.set_metadata("format", "pt"));
    const std::string dir = fresh_dir("sharded");
    REQUIRE_OK(writer.write_sharded(dir, "model", 100));
    CHECK(fs::exists(dir + "/model-00001-of-00003.safetensors"));
    CHECK(fs::exists(dir + "/model-00002-of-00003.safetensors"));
    CHECK(fs::exists(dir + "/model-00003-of-00003.safetensors"));
    CHECK(!fs::exists(dir + "/model.safetensors"));

    const auto index = nlohmann::json::parse(read_all(dir + "/model.safetensors.index.json"));
    CHECK_EQ(index["metadata"]["total_size"].get<uint64_t>(), 200u);
    CHECK_EQ(index["weight_map"].size(), 5u);
    CHECK_EQ(index["weight_map"]["lm_head.weight"].get<std::string>(), std::string("model-00002-of-00003.safetensors"));

    for (const std::string& open_path : {dir, dir + "/model.safetensors.index.json"}) {
        auto model = SafetensorsModel::open(open_path);
        REQUIRE_OK(model);
        CHECK_EQ(model->files().size(), 3u);
        CHECK_EQ(model->tensors().size(), 5u);
        CHECK(!model->index_path().empty());
        REQUIRE(model->index().has_value());
        CHECK_EQ(*model->index()->total_size, 200u);
        CHECK_EQ(model->total_bytes(), 200u);
        CHECK_EQ(model->metadata().at("format"), std::string("pt"));
        CHECK_EQ(model->folder(), dir);
        for (int i = 0; i < 5; ++i) {
            const SafetensorsTensor* t = model->find_tensor(names[i]);
            REQUIRE(t != nullptr);
            CHECK(std::memcmp(t->data, data[i].data(), 40) == 0);
            CHECK(model->file_of(names[i]) != nullptr);
        }
        CHECK(model->tensors()[0]->name == names[0]);  // files in order, data order within each
        CHECK(model->tensors()[4]->name == names[4]);
    }
    // A single shard opened on its own holds only its own tensors.
    auto shard = SafetensorsModel::open(dir + "/model-00003-of-00003.safetensors");
    REQUIRE_OK(shard);
    CHECK_EQ(shard->tensors().size(), 1u);
    CHECK(shard->index_path().empty());

    // Rewriting the same folder as one file removes the stale index, so the folder opens as one file.
    REQUIRE_OK(writer.write_sharded(dir, "model", 1000));
    CHECK(fs::exists(dir + "/model.safetensors"));
    CHECK(!fs::exists(dir + "/model.safetensors.index.json"));
    auto single = SafetensorsModel::open(dir);
    REQUIRE_OK(single);
    CHECK_EQ(single->files().size(), 1u);
    CHECK_EQ(single->tensors().size(), 5u);
}

MOE_TEST(oversized_tensor_gets_its_own_shard) {
    const std::vector<uint8_t> big = pattern(300, 1), small = pattern(8, 2);
    SafetensorsWriter writer;
    REQUIRE_OK(writer.add_tensor("s0", SafetensorsDtype::U8, {8}, small.data(), 8));
    REQUIRE_OK(writer.add_tensor("big", SafetensorsDtype::U8, {300}, big.data(), 300));
    REQUIRE_OK(writer.add_tensor("s1", SafetensorsDtype::U8, {8}, small.data(), 8));
    const std::string dir = fresh_dir("oversized");
    REQUIRE_OK(writer.write_sharded(dir, "w", 100));
    CHECK(fs::exists(dir + "/w-00003-of-00003.safetensors"));
    CHECK(fs::exists(dir + "/w.safetensors.index.json"));
    auto model = SafetensorsModel::open(dir + "/w.safetensors.index.json");
    REQUIRE_OK(model);
    CHECK_EQ(model->file_of("big")->path(), dir + "/w-00002-of-00003.safetensors");
}

MOE_TEST(folder_without_index) {
    const std::vector<uint8_t> a = pattern(4, 1);
    const std::string dir = fresh_dir("no_index");
    SafetensorsWriter w1, w2;
    REQUIRE_OK(w1.add_tensor("x", SafetensorsDtype::F32, {1}, a.data(), 4));
    REQUIRE_OK(w2.add_tensor("y", SafetensorsDtype::I32, {1}, a.data(), 4));
    REQUIRE_OK(w1.write(dir + "/b.safetensors"));
    REQUIRE_OK(w2.write(dir + "/a.safetensors"));
    auto both = SafetensorsModel::open(dir);  // every *.safetensors, by name
    REQUIRE_OK(both);
    CHECK_EQ(both->tensors().size(), 2u);
    CHECK_EQ(both->tensors()[0]->name, std::string("y"));

    REQUIRE_OK(w1.write(dir + "/model.safetensors"));  // model.safetensors wins over the others
    auto single = SafetensorsModel::open(dir);
    REQUIRE_OK(single);
    CHECK_EQ(single->tensors().size(), 1u);
    CHECK(single->find_tensor("x") != nullptr);

    // Two plain files holding the same tensor.
    const std::string dup = fresh_dir("dup_files");
    REQUIRE_OK(w1.write(dup + "/one.safetensors"));
    REQUIRE_OK(w1.write(dup + "/two.safetensors"));
    auto twice = SafetensorsModel::open(dup);
    REQUIRE(!twice.ok());
    CHECK(contains(twice.error(), "'x'"));
    CHECK(contains(twice.error(), "one.safetensors"));
    CHECK(contains(twice.error(), "two.safetensors"));

    auto nothing = SafetensorsModel::open(fresh_dir("nothing"));
    REQUIRE(!nothing.ok());
    CHECK(contains(nothing.error(), "model.safetensors"));
    auto absent = SafetensorsModel::open(dir + "/absent.safetensors");
    REQUIRE(!absent.ok());
    CHECK(contains(absent.error(), "absent.safetensors"));
}

namespace {

// A folder with shard a.safetensors {x, y} and b.safetensors {z}, plus the given index text.
std::string index_case(const std::string& name, const std::string& index_text) {
    static const std::vector<uint8_t> data = pattern(4, 5);
    const std::string dir = fresh_dir(name);
    SafetensorsWriter a, b;
    (void)a.add_tensor("x", SafetensorsDtype::F32, {1}, data.data(), 4);
    (void)a.add_tensor("y", SafetensorsDtype::F32, {1}, data.data(), 4);
    (void)b.add_tensor("z", SafetensorsDtype::F32, {1}, data.data(), 4);
    (void)a.write(dir + "/a.safetensors");
    (void)b.write(dir + "/b.safetensors");
    (void)write_file_atomic(dir + "/model.safetensors.index.json", index_text.data(), index_text.size());
    return dir;
}

std::string index_error(const std::string& name, const std::string& index_text) {
    auto model = SafetensorsModel::open(index_case(name, index_text));
    return model.ok() ? std::string("(accepted)") : model.error();
}

}  // namespace

MOE_TEST(index_valid_and_errors) {
    auto ok = SafetensorsModel::open(
        index_case("idx_ok", R"({"metadata":{"total_size":12,"format":"pt"},"weight_map":{"x":"a.safetensors","y":"a.safetensors","z":"b.safetensors"}})"));
    REQUIRE_OK(ok);
    CHECK_EQ(ok->tensors().size(), 3u);
    CHECK_EQ(ok->index()->metadata.at("total_size"), std::string("12"));
    // 'y' is in a.safetensors but not in the index: still loaded, as transformers does.
    auto partial = SafetensorsModel::open(index_case("idx_partial", R"({"weight_map":{"x":"a.safetensors","z":"b.safetensors"}})"));
    REQUIRE_OK(partial);
    CHECK(partial->find_tensor("y") != nullptr);

    std::string e = index_error("idx_missing_shard",
                                R"({"weight_map":{"x":"a.safetensors","z":"c.safetensors","w":"d.safetensors"}})");
    CHECK(contains(e, "model.safetensors.index.json"));
    CHECK(contains(e, "missing"));
    CHECK(contains(e, "c.safetensors, d.safetensors"));

    e = index_error("idx_wrong_shard", R"({"weight_map":{"x":"a.safetensors","z":"a.safetensors"}})");
    CHECK(contains(e, "tensor 'z'"));
    CHECK(contains(e, "'a.safetensors'"));
    CHECK(contains(e, "no such tensor"));
    e = index_error("idx_moved", R"({"weight_map":{"x":"b.safetensors","y":"a.safetensors","z":"b.safetensors"}})");
    CHECK(contains(e, "tensor 'x'"));
    CHECK(contains(e, "'b.safetensors'"));
    CHECK(contains(e, "a.safetensors)"));  // where it really is

    e = index_error("idx_absent_tensor", R"({"weight_map":{"x":"a.safetensors","q":"b.safetensors"}})");
    CHECK(contains(e, "tensor 'q'"));
    CHECK(contains(e, "no such tensor"));

    e = index_error("idx_dup_key", R"({"weight_map":{"x":"a.safetensors","x":"b.safetensors"}})");
    CHECK(contains(e, "duplicate key"));
    CHECK(contains(e, "'x'"));

    e = index_error("idx_empty_map", R"({"weight_map":{}})");
    CHECK(contains(e, "'weight_map' is empty"));
    e = index_error("idx_no_map", R"({"metadata":{}})");
    CHECK(contains(e, "weight_map"));
    e = index_error("idx_map_type", R"({"weight_map":["a.safetensors"]})");
    CHECK(contains(e, "weight_map"));
    e = index_error("idx_file_type", R"({"weight_map":{"x":3}})");
    CHECK(contains(e, "'x'"));
    e = index_error("idx_escape", R"({"weight_map":{"x":"../a.safetensors"}})");
    CHECK(contains(e, "../a.safetensors"));
    e = index_error("idx_absolute", R"({"weight_map":{"x":"/etc/passwd"}})");
    CHECK(contains(e, "/etc/passwd"));
    e = index_error("idx_total_size", R"({"metadata":{"total_size":-1},"weight_map":{}})");
    CHECK(contains(e, "total_size"));
    e = index_error("idx_not_json", R"({"weight_map":{"x":"a.safetensors",}})");
    CHECK(contains(e, "not valid JSON"));

    // A shard holding a tensor that the index maps to another shard: the tensor is in two shards.
    const std::string dir = index_case("idx_two_shards", R"({"weight_map":{"x":"a.safetensors","z":"b.safetensors"}})");
    SafetensorsWriter again;
    const std::vector<uint8_t> data = pattern(4, 5);
    REQUIRE_OK(again.add_tensor("x", SafetensorsDtype::F32, {1}, data.data(), 4));
    REQUIRE_OK(again.add_tensor("z", SafetensorsDtype::F32, {1}, data.data(), 4));
    REQUIRE_OK(again.write(dir + "/b.safetensors"));
    auto two = SafetensorsModel::open(dir);
    REQUIRE(!two.ok());
    CHECK(contains(two.error(), "tensor 'x'"));
    CHECK(contains(two.error(), "a.safetensors"));
    CHECK(contains(two.error(), "b.safetensors"));
}

MOE_TEST(deepseek_v3_fp8_layout) {
    // An F8_E4M3 weight [256, 130] with its F32 block scales [2, 2] (ceil(256/128), ceil(130/128)).
    const std::vector<uint8_t> w = pattern(256 * 130, 9);
    const std::vector<float> scale = {0.5f, 1.0f, 2.0f, 4.0f};
    SafetensorsWriter writer;
    REQUIRE_OK(writer.add_tensor("model.layers.0.self_attn.q_a_proj.weight", SafetensorsDtype::F8_E4M3, {256, 130},
                                 w.data(), w.size()));
    REQUIRE_OK(writer.add_tensor("model.layers.0.self_attn.q_a_proj.weight_scale_inv", SafetensorsDtype::F32, {2, 2},
                                 scale.data(), 16));
    const std::string path = fresh_dir("fp8") + "/model.safetensors";
    REQUIRE_OK(writer.write(path));
    auto model = SafetensorsModel::open(path);
    REQUIRE_OK(model);
    const SafetensorsTensor* t = model->find_tensor("model.layers.0.self_attn.q_a_proj.weight");
    REQUIRE(t != nullptr);
    CHECK(t->dtype == SafetensorsDtype::F8_E4M3);
    CHECK_EQ(t->n_bytes, 256u * 130u);
    const SafetensorsTensor* s = model->find_tensor("model.layers.0.self_attn.q_a_proj.weight_scale_inv");
    REQUIRE(s != nullptr);
    float third = 0;
    std::memcpy(&third, s->data + 8, 4);
    CHECK_EQ(third, 2.0f);
}
