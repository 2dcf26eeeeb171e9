// GGUF models as one file or as split shards "<prefix>-0000N-of-0000M.gguf" (llama.cpp gguf-split):
// metadata comes from the first shard, tensors from all of them, each tensor from exactly one shard.
#include "formats/gguf.h"

#include <cstdio>
#include <filesystem>

namespace moe {

namespace {

constexpr size_t k_shard_digits = 5;  // "%05d", as llama_split_path writes it
constexpr const char* k_suffix = ".gguf";

// Parses exactly k_shard_digits decimal digits at s[at..].
bool parse_digits(const std::string& s, size_t at, uint32_t& out) {
    out = 0;
    for (size_t j = 0; j < k_shard_digits; ++j) {
        const char c = s[at + j];
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<uint32_t>(c - '0');
    }
    return true;
}

std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// Checks a shard's split keys against its place in the set: split.no (0-based) and split.count.
Status check_shard_keys(const GgufFile& shard, uint32_t shard_no, uint32_t shard_count) {
    auto count = shard.get_uint("split.count");
    if (!count) return count.status();
    if (*count != shard_count)
        return Status::error(shard.path() + ": key 'split.count': " + std::to_string(*count) +
                             ", but the file name says " + std::to_string(shard_count) + " shards");
    auto no = shard.get_uint("split.no");
    if (!no) return no.status();
    if (*no != shard_no - 1)
        return Status::error(shard.path() + ": key 'split.no': " + std::to_string(*no) + ", expected " +
                             std::to_string(shard_no - 1) + " (0-based) for shard " + std::to_string(shard_no) +
                             " of " + std::to_string(shard_count));
    return {};
}

}  // namespace

std::string gguf_split_path(const std::string& prefix, uint32_t shard_no, uint32_t shard_count) {
    char tail[64] = {};
    std::snprintf(tail, sizeof tail, "-%05u-of-%05u.gguf", shard_no, shard_count);
    return prefix + tail;
}

bool gguf_parse_split_path(const std::string& path, std::string& prefix, uint32_t& shard_no, uint32_t& shard_count) {
    // "-" NNNNN "-of-" MMMMM ".gguf"
    const size_t tail = 1 + k_shard_digits + 4 + k_shard_digits + 5;
    if (path.size() <= tail) return false;
    const size_t at = path.size() - tail;
    if (path[at] != '-' || path.compare(at + 1 + k_shard_digits, 4, "-of-") != 0 ||
        path.compare(path.size() - 5, 5, k_suffix) != 0)
        return false;
    uint32_t no = 0, count = 0;
    if (!parse_digits(path, at + 1, no) || !parse_digits(path, at + 1 + k_shard_digits + 4, count)) return false;
    if (no == 0 || no > count) return false;
    prefix = path.substr(0, at);
    shard_no = no;
    shard_count = count;
    return true;
}

GgufModel::GgufModel(const GgufModel& other) : m_files(other.m_files) {
    const Status s = index_tensors();  // cannot fail: `other` was indexed from the same files
    assert(s.ok());
    (void)s;
}

GgufModel& GgufModel::operator=(const GgufModel& other) {
    if (this != &other) {
        m_files = other.m_files;
        const Status s = index_tensors();
        assert(s.ok());
        (void)s;
    }
    return *this;
}

Status GgufModel::index_tensors() {
    m_tensors.clear();
    m_index.clear();
    for (const GgufFile& file : m_files) {
        for (const GgufTensorInfo& t : file.tensors()) {
            const auto [it, inserted] = m_index.emplace(t.name, &t);
            if (!inserted) {
                const GgufFile* first = nullptr;
                for (const GgufFile& f : m_files)
                    if (first == nullptr && f.find_tensor(t.name) == it->second) first = &f;
                return Status::error(file.path() + ": tensor '" + t.name + "' is also in " +
                                     (first != nullptr ? first->path() : std::string("another shard")) +
                                     "; a tensor must be in exactly one shard");
            }
            m_tensors.push_back(&t);
        }
    }
    return {};
}

Result<GgufModel> GgufModel::open(const std::string& path) {
    GgufModel model;
    std::string prefix;
    uint32_t shard_no = 0, shard_count = 0;
    if (!gguf_parse_split_path(path, prefix, shard_no, shard_count)) {
        auto file = GgufFile::open(path);
        if (!file) return file.status();
        // A renamed shard would silently load as a partial model.
        if (auto count = file->get_uint("split.count"); count && *count > 1)
            return Status::error(path + ": key 'split.count' is " + std::to_string(*count) +
                                 ": this is one shard of a split model, but its name does not follow "
                                 "'<name>-0000N-of-0000M.gguf'");
        model.m_files.push_back(std::move(file.value()));
        MOE_RETURN_IF_ERROR(model.index_tensors());
        return model;
    }

    model.m_files.reserve(shard_count);
    for (uint32_t s = 1; s <= shard_count; ++s) {
        const std::string shard_path = gguf_split_path(prefix, s, shard_count);
        std::error_code ec;
        if (!std::filesystem::exists(shard_path, ec))
            return Status::error(shard_path + ": missing: shard " + std::to_string(s) + " of " +
                                 std::to_string(shard_count) + " of the split model " + file_name(path));
        auto file = GgufFile::open(shard_path);
        if (!file) return file.status();
        // A lone "-00001-of-00001" file need not carry split keys.
        if (shard_count > 1 || file->has("split.count"))
            MOE_RETURN_IF_ERROR(check_shard_keys(*file, s, shard_count));
        model.m_files.push_back(std::move(file.value()));
    }
    MOE_RETURN_IF_ERROR(model.index_tensors());

    // split.tensors.count (i32 in llama.cpp) must agree in every shard and match what the shards hold.
    for (const GgufFile& file : model.m_files) {
        if (!file.has("split.tensors.count")) continue;
        auto expected = file.get_int("split.tensors.count");
        if (!expected) return expected.status();
        if (*expected < 0 || static_cast<uint64_t>(*expected) != model.m_tensors.size())
            return Status::error(file.path() + ": key 'split.tensors.count': " + std::to_string(*expected) +
                                 ", but the " + std::to_string(shard_count) + " shards hold " +
                                 std::to_string(model.m_tensors.size()) + " tensors");
    }
    return model;
}

const GgufTensorInfo* GgufModel::find_tensor(std::string_view name) const {
    const auto it = m_index.find(std::string(name));
    return it == m_index.end() ? nullptr : it->second;
}

uint64_t GgufModel::total_bytes() const {
    uint64_t total = 0;
    for (const GgufFile& file : m_files) total += file.file_size();
    return total;
}

void GgufModel::release_metadata() {
    for (GgufFile& file : m_files) file.release_metadata();
}

}  // namespace moe
