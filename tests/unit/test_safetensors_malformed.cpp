// safetensors: every rule of the format, broken one at a time. Each file must be refused with a message
// naming the file, the tensor or key, and what was expected; none may crash (run under ASan in fuzzing).
#include "check.h"
#include "formats/safetensors.h"

#include <cstring>
#include <string>
#include <vector>

using namespace moe;

namespace {

const std::string k_name = "bad.safetensors";

// u64 header length (or `length` when given), the header text, then `buffer_bytes` bytes of data.
std::vector<uint8_t> make_file(const std::string& header, size_t buffer_bytes, int64_t length = -1) {
    const uint64_t n = length >= 0 ? static_cast<uint64_t>(length) : header.size();
    std::vector<uint8_t> bytes(8 + header.size() + buffer_bytes, 0);
    for (int b = 0; b < 8; ++b) bytes[b] = static_cast<uint8_t>(n >> (8 * b));
    if (!header.empty()) std::memcpy(bytes.data() + 8, header.data(), header.size());
    for (size_t i = 0; i < buffer_bytes; ++i) bytes[8 + header.size() + i] = static_cast<uint8_t>(i);
    return bytes;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
    auto file = SafetensorsFile::parse(bytes.data(), bytes.size(), k_name);
    return file.ok() ? std::string() : file.error();
}

// Checks the file is refused and the message holds the file name and every one of `needles`.
void expect_refused(const std::vector<uint8_t>& bytes, const std::vector<std::string>& needles, int line) {
    const std::string msg = parse_error(bytes);
    if (msg.empty()) {
        moe_test::report_failure(__FILE__, line, "accepted a malformed file");
        return;
    }
    if (msg.rfind(k_name + ": ", 0) != 0) moe_test::report_failure(__FILE__, line, "no file name in: " + msg);
    for (const std::string& n : needles)
        if (msg.find(n) == std::string::npos)
            moe_test::report_failure(__FILE__, line, "'" + n + "' missing from: " + msg);
}

#define EXPECT_REFUSED(bytes, ...) expect_refused((bytes), {__VA_ARGS__}, __LINE__)

// One well-formed F32 [2, 2] tensor 'w' with the given fields replacing the defaults.
std::string tensor_json(const std::string& dtype = "\"F32\"", const std::string& shape = "[2,2]",
                        const std::string& offsets = "[0,16]") {
    return "{\"w\":{\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}}";
}

}  // namespace

MOE_TEST(baseline_is_accepted) {
    CHECK(parse_error(make_file(tensor_json(), 16)).empty());
    CHECK(parse_error(make_file(tensor_json() + "    ", 16)).empty());  // trailing spaces
    CHECK(parse_error(make_file("{}", 0)).empty());
    CHECK(parse_error(make_file(R"({"__metadata__":{"a":"b"}})", 0)).empty());
}

MOE_TEST(too_short_for_the_length_field) {
    for (size_t n = 0; n < 8; ++n) {
        const std::vector<uint8_t> bytes(n, 0);
        EXPECT_REFUSED(bytes, "8-byte header length");
    }
}

MOE_TEST(header_length_limits) {
    EXPECT_REFUSED(make_file("{}", 0, 100'000'001), "100000001", "limit of 100000000");
    EXPECT_REFUSED(make_file("{}", 0, int64_t{1} << 40), "exceeds the limit");
    EXPECT_REFUSED(make_file("{}", 0, 3), "header length 3", "runs past the end", "expected at most 2");
    EXPECT_REFUSED(make_file("", 0, 0), "does not start with '{'");
    // The u64 maximum must not wrap around when 8 is added to it.
    std::vector<uint8_t> bytes(16, 0xff);
    EXPECT_REFUSED(bytes, "exceeds the limit");
}

MOE_TEST(header_text_must_be_utf8_json_object) {
    EXPECT_REFUSED(make_file(" {}", 0), "does not start with '{'");
    EXPECT_REFUSED(make_file("[]", 0), "does not start with '{'");
    EXPECT_REFUSED(make_file("{\"w\xff\":{}}", 0), "not valid UTF-8 at byte 3");
    EXPECT_REFUSED(make_file("{\"\xed\xa0\x80\":1}", 0), "not valid UTF-8");  // a UTF-16 surrogate
    EXPECT_REFUSED(make_file("{\"\xc0\xaf\":1}", 0), "not valid UTF-8");      // overlong '/'
    EXPECT_REFUSED(make_file("{\"w\":", 0), "not valid JSON");
    EXPECT_REFUSED(make_file("{} x", 0), "not valid JSON");                   // trailing garbage
    EXPECT_REFUSED(make_file(std::string("{}\0\0", 4), 0), "not valid JSON");                 // zero padding is not spaces
    EXPECT_REFUSED(make_file("{\"a\":1,}", 0), "not valid JSON");
    EXPECT_REFUSED(make_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", 4),
                   "nested deeper than 3");
}

MOE_TEST(duplicate_keys_are_refused) {
    const std::string t = R"({"dtype":"U8","shape":[1],"data_offsets":[0,1]})";
    EXPECT_REFUSED(make_file("{\"w\":" + t + ",\"w\":" + t + "}", 1), "duplicate key 'w'");
    EXPECT_REFUSED(make_file(R"({"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1),
                   "duplicate key 'w' -> 'dtype'");
    EXPECT_REFUSED(make_file(R"({"__metadata__":{"k":"a","k":"b"}})", 0), "duplicate key '__metadata__' -> 'k'");
    EXPECT_REFUSED(make_file(R"({"__metadata__":{},"__metadata__":{}})", 0), "duplicate key '__metadata__'");
}

MOE_TEST(metadata_must_map_strings_to_strings) {
    EXPECT_REFUSED(make_file(R"({"__metadata__":"pt"})", 0), "__metadata__", "expected an object");
    EXPECT_REFUSED(make_file(R"({"__metadata__":["pt"]})", 0), "__metadata__", "expected an object");
    EXPECT_REFUSED(make_file(R"({"__metadata__":{"format":1}})", 0), "__metadata__: key 'format'",
                   "expected a string value");
    EXPECT_REFUSED(make_file(R"({"__metadata__":{"format":{"a":"b"}}})", 0), "key 'format'", "found object");
    EXPECT_REFUSED(make_file(R"({"__metadata__":{"format":null}})", 0), "key 'format'", "found null");
}

MOE_TEST(tensor_fields_missing_or_extra) {
    EXPECT_REFUSED(make_file(R"({"w":[0,1]})", 0), "tensor 'w'", "expected an object");
    EXPECT_REFUSED(make_file(R"({"w":"F32"})", 0), "tensor 'w'", "expected an object");
    EXPECT_REFUSED(make_file(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4), "tensor 'w'", "missing field 'dtype'");
    EXPECT_REFUSED(make_file(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4), "tensor 'w'", "missing field 'shape'");
    EXPECT_REFUSED(make_file(R"({"w":{"dtype":"F32","shape":[1]}})", 4), "tensor 'w'", "missing field 'data_offsets'");
    EXPECT_REFUSED(make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"offset":0}})", 4),
                   "tensor 'w'", "unexpected field 'offset'", "expected only dtype, shape, data_offsets");
}

MOE_TEST(dtype_must_be_known) {
    EXPECT_REFUSED(make_file(tensor_json("\"F33\""), 16), "tensor 'w'", "unknown dtype \"F33\"", "BF16", "F6_E3M2");
    EXPECT_REFUSED(make_file(tensor_json("\"f32\""), 16), "tensor 'w'", "unknown dtype \"f32\"");
    EXPECT_REFUSED(make_file(tensor_json("\"\""), 16), "tensor 'w'", "unknown dtype");
    EXPECT_REFUSED(make_file(tensor_json("4"), 16), "tensor 'w'", "dtype: expected a string");
    EXPECT_REFUSED(make_file(tensor_json("null"), 16), "tensor 'w'", "dtype: expected a string");
}

MOE_TEST(shape_entries_are_non_negative_integers) {
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "4"), 16), "tensor 'w'", "shape: expected an array");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2,-2]"), 16), "tensor 'w'", "shape[1]",
                   "expected a non-negative integer", "-2");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2.0,2]"), 16), "shape[0]", "floating-point");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2,\"2\"]"), 16), "shape[1]", "found string");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2,true]"), 16), "shape[1]", "found boolean");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[18446744073709551616]"), 16), "shape[0]",
                   "floating-point");  // 2^64 does not fit an integer
}

MOE_TEST(element_and_byte_counts_overflow) {
    EXPECT_REFUSED(make_file(tensor_json("\"U8\"", "[4294967296,4294967296]"), 16), "tensor 'w'",
                   "more than 2^64 - 1 elements");
    EXPECT_REFUSED(make_file(tensor_json("\"F64\"", "[4611686018427387904]"), 16), "tensor 'w'",
                   "more than 2^64 - 1 bits");
    // A zero dimension makes the count 0 whatever the other dimensions are.
    CHECK(parse_error(make_file(tensor_json("\"U8\"", "[0,18446744073709551615]", "[0,0]"), 0)).empty());
}

MOE_TEST(data_offsets_form) {
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2,2]", "[0]"), 16), "tensor 'w'", "expected [begin, end]");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2,2]", "[0,16,32]"), 16), "expected [begin, end]");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2,2]", "{\"a\":0}"), 16), "expected [begin, end]");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2,2]", "[-1,15]"), 16), "expected [begin, end]");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2,2]", "[0,16.5]"), 16), "expected [begin, end]");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2,2]", "[16,0]"), 16), "tensor 'w'", "[16, 0)",
                   "expected begin <= end");
}

MOE_TEST(byte_size_must_match_dtype_and_shape) {
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[2,2]", "[0,12]"), 12), "tensor 'w'", "[0, 12) hold 12 bytes",
                   "F32 [2, 2] needs 16 bytes");
    EXPECT_REFUSED(make_file(tensor_json("\"BF16\"", "[2,2]", "[0,16]"), 16), "BF16 [2, 2] needs 8 bytes");
    EXPECT_REFUSED(make_file(tensor_json("\"F32\"", "[]", "[0,8]"), 8), "F32 [] needs 4 bytes");
    // Sub-byte dtypes: the tensor's bits must make whole bytes.
    EXPECT_REFUSED(make_file(tensor_json("\"F4\"", "[3]", "[0,2]"), 2), "tensor 'w'", "F4 [3] is 12 bits",
                   "not a whole number of bytes");
    EXPECT_REFUSED(make_file(tensor_json("\"F6_E2M3\"", "[2]", "[0,2]"), 2), "F6_E2M3 [2] is 12 bits");
    CHECK(parse_error(make_file(tensor_json("\"F4\"", "[3,2]", "[0,3]"), 3)).empty());
    CHECK(parse_error(make_file(tensor_json("\"F6_E3M2\"", "[4]", "[0,3]"), 3)).empty());
}

MOE_TEST(data_beyond_the_file) {
    EXPECT_REFUSED(make_file(tensor_json(), 15), "tensor 'w'", "[0, 16)", "run past the end of the byte buffer",
                   "15 bytes");
    EXPECT_REFUSED(make_file(tensor_json("\"U8\"", "[1]", "[18446744073709551614,18446744073709551615]"), 1),
                   "tensor 'w'", "run past the end");
}

MOE_TEST(buffer_must_be_tiled_exactly) {
    const auto two = [](const std::string& a, const std::string& b) {
        return "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":" + a +
               "},\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":" + b + "}}";
    };
    CHECK(parse_error(make_file(two("[4,8]", "[0,4]"), 8)).empty());  // header order need not be data order
    EXPECT_REFUSED(make_file(two("[0,4]", "[6,10]"), 10), "[4, 6) is not covered by any tensor",
                   "hole before tensor 'b'", "expected it to start at 4");
    EXPECT_REFUSED(make_file(two("[2,6]", "[6,10]"), 10), "[0, 2) is not covered", "tensor 'a'");
    EXPECT_REFUSED(make_file(two("[0,4]", "[2,6]"), 6), "tensor 'b'", "[2, 6) overlap tensor 'a' [0, 4)");
    EXPECT_REFUSED(make_file(two("[0,4]", "[0,4]"), 4), "overlap tensor");
    EXPECT_REFUSED(make_file(two("[0,4]", "[4,8]"), 9), "[8, 9) is not covered by any tensor",
                   "after the last tensor 'b'");
    EXPECT_REFUSED(make_file("{}", 3), "[0, 3) is not covered", "no tensors");
    // A zero-size tensor inside another tensor's bytes overlaps it; at a boundary it is fine.
    const std::string inner = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"z":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}})";
    EXPECT_REFUSED(make_file(inner, 4), "tensor 'z'", "overlap tensor 'a'");
    const std::string edge = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"z":{"dtype":"U8","shape":[0],"data_offsets":[4,4]}})";
    CHECK(parse_error(make_file(edge, 4)).empty());
}

MOE_TEST(truncation_at_every_byte_is_refused) {
    const std::string header =
        R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
        R"("b":{"dtype":"BF16","shape":[],"data_offsets":[24,26]},"c":{"dtype":"I8","shape":[0],"data_offsets":[26,26]}})";
    const std::vector<uint8_t> full = make_file(header, 26);
    REQUIRE(parse_error(full).empty());
    for (size_t n = 0; n < full.size(); ++n) {
        const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        const std::string msg = parse_error(cut);
        if (msg.empty()) {
            moe_test::report_failure(__FILE__, __LINE__, "accepted a file cut to " + std::to_string(n) + " bytes");
            continue;
        }
        CHECK(msg.rfind(k_name + ": ", 0) == 0);
        // Once the header is whole, the message names the tensor whose bytes are missing.
        if (n >= 8 + header.size()) CHECK(msg.find(n < 8 + header.size() + 24 ? "tensor 'a'" : "tensor 'b'") != std::string::npos);
    }
    std::vector<uint8_t> longer = full;
    longer.push_back(0);
    EXPECT_REFUSED(longer, "[26, 27) is not covered", "after the last tensor");
}

MOE_TEST(open_reports_the_path) {
    auto missing = SafetensorsFile::open("/nonexistent/dir/x.safetensors");
    REQUIRE(!missing.ok());
    CHECK(missing.error().find("/nonexistent/dir/x.safetensors") != std::string::npos);
    auto folder = SafetensorsFile::open(moe_test::temp_dir());
    CHECK(!folder.ok());
}
