// Malformed GGUF files, built by patching a small valid file written by GgufWriter (or, where the writer
// refuses to produce the shape, by a raw byte builder). Each must be refused with a message naming the
// file, the key or tensor, and the problem; none may crash (the fuzz target covers the rest).
#include "check.h"

#include "formats/gguf.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>

using namespace moe;

namespace {

using Bytes = std::vector<uint8_t>;

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

Bytes read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// The valid base file. Tensor data sizes are multiples of 64, so no byte of the file is padding after
// the last tensor: truncating it anywhere loses something the reader needs.
struct Base {
    std::vector<float> a = std::vector<float>(8, 1.0f);    // ta.w F32 {4,2}: 32 bytes
    std::vector<float> b = std::vector<float>(16, 2.0f);   // tb.w F32 {16}: 64 bytes
    Bytes bytes;

    explicit Base(uint32_t alignment) {
        GgufWriter w;
        w.set_alignment(alignment);
        w.set("m.str", GgufValue::make_string("hello"));
        w.set("m.arr", GgufValue::make_i32_array({1, 2, 3}));
        w.set("m.bool", GgufValue::make_bool(true));
        w.set("dup.a", GgufValue::make_u32(1));
        w.set("dup.b", GgufValue::make_u32(2));
        w.set("m.nest", GgufValue::make_array(GgufValueType::Array, {GgufValue::make_i32_array({1})}));
        bool ok = w.add_tensor("ta.w", GgmlType::F32, {4, 2}, a.data(), 32).ok();
        ok = ok && w.add_tensor("tb.w", GgmlType::F32, {16}, b.data(), 64).ok();
        const std::string path = moe_test::temp_dir() + "/base" + std::to_string(alignment) + ".gguf";
        ok = ok && w.write(path).ok();
        REQUIRE(ok);
        bytes = read_bytes(path);
        REQUIRE(GgufFile::parse(bytes.data(), bytes.size(), "base.gguf").ok());
    }

    // Offset just past the one occurrence of `text` (a key or tensor name) in the file.
    size_t after(const std::string& text) const {
        const auto it = std::search(bytes.begin(), bytes.end(), text.begin(), text.end());
        REQUIRE(it != bytes.end());
        REQUIRE(std::search(it + 1, bytes.end(), text.begin(), text.end()) == bytes.end());
        return static_cast<size_t>(it - bytes.begin()) + text.size();
    }
};

template <class T>
void poke(Bytes& b, size_t at, T v) {
    REQUIRE(at + sizeof(T) <= b.size());
    std::memcpy(b.data() + at, &v, sizeof(T));
}

// Writes `bytes` as `<name>.gguf`, opens it, and checks it is refused with a message naming the file
// and each of `parts`.
void expect_refused(const std::string& name, const Bytes& bytes, std::initializer_list<const char*> parts) {
    const std::string path = moe_test::temp_dir() + "/" + name + ".gguf";
    {
        std::ofstream f(path, std::ios::binary);
        f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    auto file = GgufFile::open(path);
    if (file.ok()) {
        moe_test::report_failure(__FILE__, __LINE__, name + ": accepted");
        return;
    }
    const std::string& message = file.error();
    if (!contains(message, name + ".gguf"))
        moe_test::report_failure(__FILE__, __LINE__, name + ": message lacks the file name: " + message);
    for (const char* part : parts)
        if (!contains(message, part))
            moe_test::report_failure(__FILE__, __LINE__, name + ": message '" + message + "' lacks '" + part + "'");
}

// Raw little-endian GGUF bytes, for shapes GgufWriter refuses to write.
struct Raw {
    Bytes b;
    template <class T>
    Raw& put(T v) {
        const size_t at = b.size();
        b.resize(at + sizeof(T));
        std::memcpy(b.data() + at, &v, sizeof(T));
        return *this;
    }
    Raw& str(const std::string& s) {
        put<uint64_t>(s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    Raw& header(uint64_t n_tensors, uint64_t n_kv) {
        return put<uint32_t>(0x46554747).put<uint32_t>(3).put(n_tensors).put(n_kv);
    }
};

}  // namespace

MOE_TEST(bad_magic_and_versions) {
    const Base base(32);
    Bytes b = base.bytes;
    b[0] = 'X';
    expect_refused("bad_magic", b, {"not a GGUF file", "magic"});
    for (uint32_t version : {1u, 4u, 0u}) {
        b = base.bytes;
        poke<uint32_t>(b, 4, version);
        expect_refused("version" + std::to_string(version), b,
                       {("version " + std::to_string(version)).c_str(), "not supported"});
    }
    b = base.bytes;
    poke<uint32_t>(b, 4, 0x03000000u);
    expect_refused("big_endian", b, {"big-endian"});
    b = base.bytes;
    poke<uint64_t>(b, 16, uint64_t{1} << 40);
    expect_refused("kv_count", b, {"metadata count 1099511627776", "exceeds"});
    b = base.bytes;
    poke<uint64_t>(b, 8, uint64_t{1} << 40);
    expect_refused("tensor_count", b, {"tensor count 1099511627776", "exceeds"});
}

MOE_TEST(truncation_at_every_offset) {
    for (uint32_t alignment : {32u, 64u}) {
        const Base base(alignment);
        for (size_t size = 0; size < base.bytes.size(); ++size) {
            auto file = GgufFile::parse(base.bytes.data(), size, "cut.gguf");
            if (file.ok()) {
                moe_test::report_failure(__FILE__, __LINE__, "accepted when cut to " + std::to_string(size) + " bytes");
                continue;
            }
            const std::string& m = file.error();
            const bool says_why = contains(m, "truncated") || contains(m, "past the end") ||
                                  contains(m, "beyond the end") || contains(m, "can hold");
            if (!contains(m, "cut.gguf") || !says_why)
                moe_test::report_failure(__FILE__, __LINE__, "cut to " + std::to_string(size) + ": " + m);
        }
    }
}

// Like llama.cpp, the padding after the last tensor is optional: a file cut inside it still loads.
MOE_TEST(final_padding_is_optional) {
    GgufWriter w;
    std::vector<float> x(3, 1.0f);
    REQUIRE(w.add_tensor("x", GgmlType::F32, {3}, x.data(), 12).ok());
    const std::string path = moe_test::temp_dir() + "/padded.gguf";
    REQUIRE(w.write(path).ok());
    const Bytes b = read_bytes(path);
    auto whole = GgufFile::parse(b.data(), b.size(), "padded.gguf");
    REQUIRE_OK(whole);
    const size_t data_end = whole->data_offset() + 12;
    CHECK_EQ(b.size(), whole->data_offset() + 32);
    CHECK(GgufFile::parse(b.data(), data_end, "padded.gguf").ok());
    CHECK(!GgufFile::parse(b.data(), data_end - 1, "padded.gguf").ok());
}

MOE_TEST(strings_and_arrays_past_the_end) {
    const Base base(32);
    Bytes b = base.bytes;
    poke<uint64_t>(b, base.after("hello") - 5 - 8, uint64_t{1} << 40);
    expect_refused("string_len", b, {"key 'm.str'", "string length 1099511627776", "past the end"});
    b = base.bytes;
    poke<uint64_t>(b, 24, ~uint64_t{0});  // the first key's own length
    expect_refused("key_len", b, {"metadata key 0", "length 18446744073709551615", "past the end"});
    b = base.bytes;
    poke<uint64_t>(b, base.after("m.arr") + 8, uint64_t{1} << 40);
    expect_refused("array_count", b, {"key 'm.arr'", "array of 1099511627776 i32", "past the end"});
    b = base.bytes;
    poke<uint64_t>(b, base.after("m.nest") + 20, uint64_t{1} << 40);  // type, elem type, count, inner elem type
    expect_refused("inner_array_count", b, {"key 'm.nest'", "array of 1099511627776 i32", "past the end"});
}

MOE_TEST(bad_value_types) {
    const Base base(32);
    Bytes b = base.bytes;
    poke<uint32_t>(b, base.after("m.bool"), 13);
    expect_refused("value_type", b, {"key 'm.bool'", "unknown value type 13"});
    b = base.bytes;
    poke<uint32_t>(b, base.after("m.arr") + 4, 0xFFFFFFFFu);
    expect_refused("elem_type", b, {"key 'm.arr'", "unknown array element type 4294967295"});
    b = base.bytes;
    poke<uint8_t>(b, base.after("m.bool") + 4, 2);
    expect_refused("bool_value", b, {"key 'm.bool'", "bool value 2", "expected 0 or 1"});
    b = base.bytes;
    std::memcpy(b.data() + base.after("dup.b") - 1, "a", 1);
    expect_refused("duplicate_key", b, {"key 'dup.a'", "duplicate key"});
}

MOE_TEST(arrays_nested_too_deep) {
    for (int levels : {k_gguf_max_array_depth, k_gguf_max_array_depth + 1, 1000}) {
        Raw raw;
        raw.header(0, 1).str("deep").put<uint32_t>(9);
        for (int l = 1; l < levels; ++l) raw.put<uint32_t>(9).put<uint64_t>(1);
        raw.put<uint32_t>(5).put<uint64_t>(1).put<int32_t>(7);
        auto file = GgufFile::parse(raw.b.data(), raw.b.size(), "deep.gguf");
        if (levels <= k_gguf_max_array_depth) {
            CHECK(file.ok());
        } else {
            CHECK(!file.ok());
            CHECK(contains(file.error(), "deep.gguf: key 'deep': arrays nested deeper than 8"));
        }
    }
}

MOE_TEST(too_many_array_items) {
    // A u8 array one item over the budget, in a buffer large enough that the bounds check passes.
    const uint64_t count = k_gguf_max_array_items + 1;
    Raw raw;
    raw.header(0, 1).str("huge").put<uint32_t>(9).put<uint32_t>(0).put<uint64_t>(count);
    raw.b.resize(raw.b.size() + count, 0);
    auto file = GgufFile::parse(raw.b.data(), raw.b.size(), "huge.gguf");
    CHECK(!file.ok());
    CHECK(contains(file.error(), "huge.gguf: key 'huge'"));
    CHECK(contains(file.error(), "array items in all"));
}

MOE_TEST(bad_tensor_infos) {
    const Base base(32);
    const size_t a = base.after("ta.w");  // n_dims u32, ne[2] u64, type u32, offset u64
    const size_t b_off = base.after("tb.w") + 4 + 8 + 4;  // tb.w's offset field
    Bytes b = base.bytes;
    poke<uint32_t>(b, a, 5);
    expect_refused("dims5", b, {"tensor 'ta.w'", "5 dimensions, expected 1 to 4"});
    b = base.bytes;
    poke<uint32_t>(b, a, 0);
    expect_refused("dims0", b, {"tensor 'ta.w'", "0 dimensions"});
    b = base.bytes;
    poke<uint64_t>(b, a + 4, uint64_t{1} << 32);
    poke<uint64_t>(b, a + 12, uint64_t{1} << 32);
    expect_refused("elements_overflow", b, {"tensor 'ta.w'", "element count overflows", "dimension 1"});
    b = base.bytes;
    poke<uint64_t>(b, a + 4, ~uint64_t{0});
    expect_refused("dim_negative", b, {"tensor 'ta.w'", "element count overflows", "dimension 0"});
    for (uint32_t type : {4u, 31u, 1000u, 0xFFFFFFFFu}) {
        b = base.bytes;
        poke<uint32_t>(b, a + 20, type);
        expect_refused("tensor_type" + std::to_string(type), b,
                       {"tensor 'ta.w'", ("unknown tensor type " + std::to_string(type)).c_str()});
    }
    b = base.bytes;
    poke<uint32_t>(b, a + 20, static_cast<uint32_t>(GgmlType::Q8_0));  // 4-element rows, 32-element blocks
    expect_refused("row_blocks", b, {"tensor 'ta.w'", "row length 4", "block size 32"});
    b = base.bytes;
    poke<uint64_t>(b, b_off, uint64_t{1} << 20);
    expect_refused("data_beyond", b, {"tensor 'tb.w'", "beyond the end of the file"});
    b = base.bytes;
    poke<uint64_t>(b, b_off, ~uint64_t{0} - 31);  // aligned, and offset + size overflows 64 bits
    expect_refused("data_wraps", b, {"tensor 'tb.w'", "beyond the end of the file"});
    b = base.bytes;
    poke<uint64_t>(b, b_off, 36);
    expect_refused("misaligned", b, {"tensor 'tb.w'", "offset 36", "not aligned to 32"});
    b = base.bytes;
    poke<uint64_t>(b, b_off, 0);
    expect_refused("overlap", b, {"'ta.w'", "'tb.w'", "overlaps"});
    b = base.bytes;
    std::memcpy(b.data() + base.after("tb.w") - 4, "ta.w", 4);
    expect_refused("duplicate_tensor", b, {"tensor 'ta.w'", "duplicate tensor name"});
}

MOE_TEST(long_tensor_name) {
    const std::string name(65, 'n');
    Raw raw;
    raw.header(1, 0).str(name).put<uint32_t>(1).put<uint64_t>(1).put<uint32_t>(0).put<uint64_t>(0);
    expect_refused("long_name", raw.b, {"tensor 0 'nnnn", "65 bytes", "limit of 64"});
}

MOE_TEST(bad_alignment) {
    const Base base(64);
    const size_t at = base.after("general.alignment");  // type u32, value u32
    for (uint32_t alignment : {48u, 0u, 3u}) {
        Bytes b = base.bytes;
        poke<uint32_t>(b, at + 4, alignment);
        expect_refused("alignment" + std::to_string(alignment), b,
                       {"key 'general.alignment'", (std::to_string(alignment) + " is not a power of two").c_str()});
    }
    Bytes b = base.bytes;
    poke<uint32_t>(b, at, static_cast<uint32_t>(GgufValueType::Int32));
    expect_refused("alignment_type", b, {"key 'general.alignment'", "expected u32, found i32"});
    b = base.bytes;
    poke<uint32_t>(b, at + 4, 128);  // valid, but the tensors' 64-aligned offsets no longer are
    expect_refused("alignment_128", b, {"tensor 'tb.w'", "not aligned to 128"});
}
