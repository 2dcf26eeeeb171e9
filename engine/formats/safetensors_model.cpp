// A safetensors model: one file, or a folder of shards tied together by model.safetensors.index.json.
#include "formats/json_strict.h"
#include "formats/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

namespace moe {

namespace fs = std::filesystem;

namespace {

using json = nlohmann::json;

constexpr size_t k_max_index_bytes = 256u << 20;
constexpr size_t k_max_index_depth = 3;  // root -> metadata -> a value that is itself an array (tolerated)
constexpr const char* k_index_name = "model.safetensors.index.json";
constexpr const char* k_single_name = "model.safetensors";

// A shard name must stay inside the model folder.
bool safe_shard_name(const std::string& file) {
    if (file.empty() || file.front() == '/') return false;
    for (const auto& part : fs::path(file))
        if (part == "..") return false;
    return true;
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<SafetensorsIndex> parse_safetensors_index(std::string_view text, const std::string& name) {
    auto parsed = parse_json_strict(text, name, k_max_index_depth);
    if (!parsed) return parsed.status();
    const json& root = *parsed;
    if (!root.is_object()) return Status::error(name + ": expected a JSON object, found " + json_kind(root));
    SafetensorsIndex index;
    if (root.contains("metadata")) {
        const json& meta = root["metadata"];
        if (!meta.is_object() && !meta.is_null())
            return Status::error(name + ": 'metadata': expected an object, found " + json_kind(meta));
        if (meta.is_object()) {
            for (const auto& [key, v] : meta.items())
                index.metadata.emplace(key, v.is_string() ? v.get<std::string>()
                                                          : v.dump(-1, ' ', false, json::error_handler_t::replace));
            if (meta.contains("total_size")) {
                const json& total = meta["total_size"];
                if (!total.is_number_unsigned())
                    return Status::error(name + ": 'metadata' -> 'total_size': expected a non-negative integer, found " +
                                         json_kind(total));
                index.total_size = total.get<uint64_t>();
            }
        }
    }
    if (!root.contains("weight_map"))
        return Status::error(name + ": missing 'weight_map' (expected an object mapping tensor names to files)");
    const json& map = root["weight_map"];
    if (!map.is_object())
        return Status::error(name + ": 'weight_map': expected an object mapping tensor names to files, found " +
                             json_kind(map));
    for (const auto& [tensor, file] : map.items()) {
        if (!file.is_string())
            return Status::error(name + ": 'weight_map' -> '" + tensor + "': expected a file name string, found " +
                                 json_kind(file));
        const std::string shard = file.get<std::string>();
        if (!safe_shard_name(shard))
            return Status::error(name + ": 'weight_map' -> '" + tensor + "': file name '" + shard +
                                 "' must be a relative path inside the model folder");
        index.weight_map.emplace(tensor, shard);
    }
    return index;
}

Status SafetensorsModel::add_file(SafetensorsFile file) {
    const size_t file_no = m_files.size();
    m_files.push_back(std::move(file));
    for (const SafetensorsTensor& t : m_files.back().tensors()) {
        const auto [it, inserted] = m_by_name.emplace(t.name, std::make_pair(&t, file_no));
        if (!inserted)
            return Status::error(m_files.back().path() + ": tensor '" + t.name + "' is also in " +
                                 m_files[it->second.second].path() + " (expected each tensor in one file only)");
        m_tensors.push_back(&t);
    }
    return {};
}

// Every tensor the index names must be in the shard it names.
Status SafetensorsModel::check_index() const {
    for (const auto& [tensor, shard] : m_index->weight_map) {
        const std::string shard_path = (fs::path(m_folder) / shard).string();
        const auto it = m_by_name.find(tensor);
        if (it == m_by_name.end())
            return Status::error(m_index_path + ": tensor '" + tensor + "' is mapped to '" + shard +
                                 "', but that file has no such tensor");
        const std::string& actual = m_files[it->second.second].path();
        if (actual != shard_path)
            return Status::error(m_index_path + ": tensor '" + tensor + "' is mapped to '" + shard +
                                 "', but that file has no such tensor (it is in " + actual + ")");
    }
    return {};
}

namespace {

// The files a folder holds when it has no index: model.safetensors, else every *.safetensors by name.
Result<std::vector<std::string>> folder_files(const std::string& folder) {
    const fs::path single = fs::path(folder) / k_single_name;
    std::error_code ec;
    if (fs::is_regular_file(single, ec)) return std::vector<std::string>{single.string()};
    std::vector<std::string> files;
    fs::directory_iterator it(folder, ec);
    if (ec) return Status::error(folder + ": cannot list the folder: " + ec.message());
    for (const auto& e : it) {
        std::error_code type_ec;
        if (e.is_regular_file(type_ec) && e.path().extension() == ".safetensors") files.push_back(e.path().string());
    }
    if (files.empty())
        return Status::error(folder + ": no " + std::string(k_index_name) + ", " + k_single_name +
                             " or other *.safetensors file in this folder");
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

Result<SafetensorsModel> SafetensorsModel::open(const std::string& path) {
    SafetensorsModel model;
    std::error_code ec;
    std::vector<std::string> files;
    if (fs::is_directory(path, ec)) {
        model.m_folder = path;
        const fs::path index = fs::path(path) / k_index_name;
        if (fs::is_regular_file(index, ec)) model.m_index_path = index.string();
    } else if (ends_with(path, ".json")) {
        model.m_folder = fs::path(path).parent_path().string();
        model.m_index_path = path;
    } else {
        model.m_folder = fs::path(path).parent_path().string();
        files.push_back(path);
    }
    if (model.m_folder.empty()) model.m_folder = ".";

    if (!model.m_index_path.empty()) {
        auto text = read_text_file(model.m_index_path, k_max_index_bytes);
        if (!text) return text.status();
        auto index = parse_safetensors_index(*text, model.m_index_path);
        if (!index) return index.status();
        model.m_index = std::move(index.value());
        if (model.m_index->weight_map.empty())
            return Status::error(model.m_index_path + ": 'weight_map' is empty (expected tensor -> file entries)");
        std::set<std::string> shards;
        for (const auto& [tensor, shard] : model.m_index->weight_map) shards.insert(shard);
        std::string missing;
        for (const std::string& shard : shards) {
            const fs::path p = fs::path(model.m_folder) / shard;
            if (!fs::is_regular_file(p, ec)) missing += (missing.empty() ? "" : ", ") + shard;
            files.push_back(p.string());
        }
        if (!missing.empty())
            return Status::error(model.m_index_path + ": shard files named in weight_map are missing from " +
                                 model.m_folder + ": " + missing);
    } else if (files.empty()) {
        auto listed = folder_files(model.m_folder);
        if (!listed) return listed.status();
        files = std::move(listed.value());
    }

    model.m_files.reserve(files.size());  // pointers into earlier files stay valid (vector buffers move)
    for (const std::string& f : files) {
        auto file = SafetensorsFile::open(f);
        if (!file) return file.status();
        MOE_RETURN_IF_ERROR(model.add_file(std::move(file.value())));
    }
    if (model.m_index) MOE_RETURN_IF_ERROR(model.check_index());
    return model;
}

const std::map<std::string, std::string>& SafetensorsModel::metadata() const {
    static const std::map<std::string, std::string> empty;
    return m_files.empty() ? empty : m_files.front().metadata();
}

const SafetensorsTensor* SafetensorsModel::find_tensor(std::string_view name) const {
    const auto it = m_by_name.find(std::string(name));
    return it == m_by_name.end() ? nullptr : it->second.first;
}

const SafetensorsFile* SafetensorsModel::file_of(std::string_view name) const {
    const auto it = m_by_name.find(std::string(name));
    return it == m_by_name.end() ? nullptr : &m_files[it->second.second];
}

uint64_t SafetensorsModel::total_bytes() const {
    uint64_t total = 0;
    for (const SafetensorsTensor* t : m_tensors) total += t->n_bytes;
    return total;
}

}  // namespace moe
