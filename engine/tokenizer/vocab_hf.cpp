// HF tokenizer.json (+ tokenizer_config.json) -> VocabData. Only byte-level BPE models are accepted: model
// type BPE, a pre-tokenizer made of Split(Isolated) / Digits / ByteLevel steps, no normalizer.
#include "tokenizer/vocab.h"

#include "formats/json_strict.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

namespace moe {
namespace {

using Json = nlohmann::json;

constexpr size_t k_max_json_depth = 256;
constexpr int64_t k_max_token_id = (int64_t{1} << 24) - 1;

// tokenizer.json and tokenizer_config.json go through the strict parser shared by every JSON reader:
// UTF-8 checked, duplicate keys refused, nesting capped, no exception escapes.
Result<Json> parse_json(const std::string& text, const std::string& name) {
    return parse_json_strict(text, name, k_max_json_depth);
}

// Escapes a literal string for use inside a PCRE2 pattern (Split with a String pattern).
std::string regex_quote(const std::string& literal) {
    std::string out;
    for (char c : literal) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x80 && !std::isalnum(u)) out += '\\';
        out += c;
    }
    return out;
}

// One pre-tokenizer step. Appends Split regexes to `regexes`.
Status read_pre_step(const Json& step, const std::string& where, VocabData& vocab, size_t depth) {
    if (!step.is_object() || !step.contains("type") || !step["type"].is_string()) {
        return Status::error(where + ": expected an object with a string 'type'");
    }
    const std::string type = step["type"].get<std::string>();
    if (type == "Sequence") {
        if (depth > 8) return Status::error(where + ": Sequence nested too deeply");
        const Json& steps = step.contains("pretokenizers") ? step["pretokenizers"] : Json();
        if (!steps.is_array()) return Status::error(where + ".pretokenizers: expected an array");
        for (size_t i = 0; i < steps.size(); ++i) {
            MOE_RETURN_IF_ERROR(read_pre_step(steps[i], where + ".pretokenizers[" + std::to_string(i) + "]", vocab,
                                              depth + 1));
        }
        return Status();
    }
    if (type == "Split") {
        const std::string behavior = step.value("behavior", Json("Isolated")).is_string()
                                         ? step.value("behavior", Json("Isolated")).get<std::string>()
                                         : std::string("?");
        if (behavior != "Isolated") {
            return Status::error(where + ": Split behavior '" + behavior + "' is not supported (expected Isolated)");
        }
        if (step.contains("invert") && !(step["invert"].is_boolean() && !step["invert"].get<bool>())) {
            return Status::error(where + ": Split with invert=true is not supported");
        }
        const Json& pattern = step.contains("pattern") ? step["pattern"] : Json();
        if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
            vocab.pre_regexes.push_back(pattern["Regex"].get<std::string>());
        } else if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
            vocab.pre_regexes.push_back(regex_quote(pattern["String"].get<std::string>()));
        } else {
            return Status::error(where + ".pattern: expected {\"Regex\": string} or {\"String\": string}");
        }
        return Status();
    }
    if (type == "Digits") {
        const bool individual = step.contains("individual_digits") && step["individual_digits"].is_boolean() &&
                                step["individual_digits"].get<bool>();
        vocab.pre_regexes.push_back(individual ? "\\p{N}" : "\\p{N}+");
        return Status();
    }
    if (type == "ByteLevel") {
        // The byte-to-symbol mapping always happens; use_regex adds the GPT-2 split.
        const bool use_regex = !step.contains("use_regex") || (step["use_regex"].is_boolean() && step["use_regex"].get<bool>());
        if (step.contains("add_prefix_space") && step["add_prefix_space"].is_boolean()) {
            vocab.add_prefix_space = vocab.pre_regexes.empty() && step["add_prefix_space"].get<bool>();
        }
        if (use_regex) {
            vocab.pre_regexes.push_back(
                R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re");
        }
        return Status();
    }
    return Status::error(where + ": pre-tokenizer type '" + type + "' is not supported");
}

// Regex text with literal CR/LF written as the escapes \r \n (tokenizer.json holds either form).
std::string canonical_regex(const std::string& regex) {
    std::string out;
    for (char c : regex) {
        if (c == '\r') out += "\\r";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

bool same_regexes(const std::vector<std::string>& a, const std::vector<std::string>& b, size_t count) {
    if (a.size() < count || b.size() < count) return false;
    for (size_t i = 0; i < count; ++i) {
        if (canonical_regex(a[i]) != canonical_regex(b[i])) return false;
    }
    return true;
}

// Gives the list the name of a known pre-tokenizer when it is one.
void name_pre_tokenizer(VocabData& vocab) {
    vocab.pre = "custom";
    for (const char* name : {"deepseek-v3", "deepseek-coder", "deepseek-llm"}) {
        auto known = pretokenizer_regexes(name);
        if (known.ok() && known->size() == vocab.pre_regexes.size() &&
            same_regexes(*known, vocab.pre_regexes, known->size())) {
            vocab.pre = name;
        }
    }
    // HF writes the DeepSeek LLM/Coder digit step as Digits(individual_digits): same pieces for these vocabs.
    if (vocab.pre == "custom" && vocab.pre_regexes.size() == 6 && vocab.pre_regexes[5] == "\\p{N}") {
        auto known = pretokenizer_regexes("deepseek-llm");
        if (known.ok() && same_regexes(*known, vocab.pre_regexes, 5)) {
            vocab.pre = "deepseek-llm";
        }
    }
}

Status read_normalizer(const Json& root, const std::string& name) {
    if (!root.contains("normalizer") || root["normalizer"].is_null()) return Status();
    const Json& norm = root["normalizer"];
    if (norm.is_object() && norm.value("type", Json()).is_string() && norm["type"] == "Sequence" &&
        norm.contains("normalizers") && norm["normalizers"].is_array() && norm["normalizers"].empty()) {
        return Status();
    }
    return Status::error(name + ": normalizer: only an empty normalizer is supported");
}

// Ids may leave a few gaps, but no more than the file has entries (+1024): bounds the allocation.
Status place_token(VocabData& vocab, int64_t id, const std::string& text, TokenType type, const std::string& where,
                   bool allow_replace, size_t n_entries) {
    const int64_t limit = std::min<int64_t>(k_max_token_id, static_cast<int64_t>(n_entries) + 1024);
    if (id < 0 || id > limit) {
        return Status::error(where + ": token id " + std::to_string(id) + " is out of range [0, " +
                             std::to_string(limit) + "] for a file with " + std::to_string(n_entries) + " tokens");
    }
    const size_t index = static_cast<size_t>(id);
    if (index >= vocab.tokens.size()) {
        vocab.tokens.resize(index + 1);
        vocab.token_types.resize(index + 1, TokenType::Undefined);
    }
    if (vocab.token_types[index] != TokenType::Undefined && !allow_replace) {
        return Status::error(where + ": token id " + std::to_string(id) + " is used twice ('" + vocab.tokens[index] +
                             "' and '" + text + "')");
    }
    vocab.tokens[index] = text;
    vocab.token_types[index] = type;
    return Status();
}

Status read_model(const Json& root, const std::string& name, VocabData& vocab, size_t n_entries) {
    const Json& model = root.contains("model") ? root["model"] : Json();
    if (!model.is_object()) return Status::error(name + ": model: expected an object");
    if (model.contains("type") && !(model["type"].is_string() && model["type"] == "BPE")) {
        return Status::error(name + ": model.type: only BPE is supported");
    }
    if (!model.contains("vocab") || !model["vocab"].is_object()) return Status::error(name + ": model.vocab: expected an object");
    for (const auto& [text, id] : model["vocab"].items()) {
        if (!id.is_number_integer()) return Status::error(name + ": model.vocab['" + text + "']: expected an integer id");
        MOE_RETURN_IF_ERROR(place_token(vocab, id.get<int64_t>(), text, TokenType::Normal,
                                        name + ": model.vocab['" + text + "']", false, n_entries));
    }
    const Json& merges = model.contains("merges") ? model["merges"] : Json();
    if (!merges.is_array()) return Status::error(name + ": model.merges: expected an array");
    vocab.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
        const Json& m = merges[i];
        if (m.is_string()) {  // "left right"
            const std::string s = m.get<std::string>();
            const size_t space = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
            if (space == std::string::npos) {
                return Status::error(name + ": model.merges[" + std::to_string(i) + "]: expected \"left right\", found '" + s + "'");
            }
            vocab.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            vocab.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else {
            return Status::error(name + ": model.merges[" + std::to_string(i) + "]: expected \"a b\" or [\"a\", \"b\"]");
        }
    }
    vocab.ignore_merges = model.contains("ignore_merges") && model["ignore_merges"].is_boolean() &&
                          model["ignore_merges"].get<bool>();
    return Status();
}

Status read_added_tokens(const Json& root, const std::string& name, VocabData& vocab, size_t n_entries) {
    if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return Status();
    const Json& added = root["added_tokens"];
    if (!added.is_array()) return Status::error(name + ": added_tokens: expected an array");
    for (size_t i = 0; i < added.size(); ++i) {
        const Json& t = added[i];
        const std::string where = name + ": added_tokens[" + std::to_string(i) + "]";
        if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
            !t["content"].is_string()) {
            return Status::error(where + ": expected {\"id\": integer, \"content\": string, ...}");
        }
        const bool special = t.contains("special") && t["special"].is_boolean() && t["special"].get<bool>();
        const std::string content = t["content"].get<std::string>();
        if (content.empty()) return Status::error(where + ": empty content");
        MOE_RETURN_IF_ERROR(place_token(vocab, t["id"].get<int64_t>(), content,
                                        special ? TokenType::Control : TokenType::UserDefined, where, true, n_entries));
    }
    return Status();
}

int32_t find_token(const VocabData& vocab, const std::string& text) {
    for (size_t i = vocab.tokens.size(); i-- > 0;) {
        if (vocab.tokens[i] == text && vocab.token_types[i] != TokenType::Undefined) return static_cast<int32_t>(i);
    }
    return -1;
}

// A TemplateProcessing post-processor that starts with a special token adds BOS.
void read_post_processor(const Json& root, VocabData& vocab) {
    if (!root.contains("post_processor") || !root["post_processor"].is_object()) return;
    const Json& pp = root["post_processor"];
    if (!(pp.value("type", Json()).is_string() && pp["type"] == "TemplateProcessing")) return;
    if (!pp.contains("single") || !pp["single"].is_array() || pp["single"].empty()) return;
    const Json& first = pp["single"][0];
    if (first.is_object() && first.contains("SpecialToken") && first["SpecialToken"].is_object() &&
        first["SpecialToken"].value("id", Json()).is_string()) {
        const int32_t id = find_token(vocab, first["SpecialToken"]["id"].get<std::string>());
        if (id >= 0) {
            vocab.bos_id = id;
            vocab.add_bos = true;
        }
    }
}

// A config entry naming a token: "text" or {"content": "text", ...}. Returns the id, -1 when absent/unknown.
int32_t config_token(const Json& config, const char* key, const VocabData& vocab) {
    if (!config.contains(key)) return -1;
    const Json& v = config[key];
    if (v.is_string()) return find_token(vocab, v.get<std::string>());
    if (v.is_object() && v.value("content", Json()).is_string()) return find_token(vocab, v["content"].get<std::string>());
    return -1;
}

Status read_config(const Json& config, const std::string& name, VocabData& vocab) {
    if (!config.is_object()) return Status::error(name + ": expected a JSON object");
    for (const auto& [key, target] : {std::pair<const char*, int32_t*>{"bos_token", &vocab.bos_id},
                                      {"eos_token", &vocab.eos_id}, {"pad_token", &vocab.pad_id},
                                      {"unk_token", &vocab.unk_id}}) {
        const int32_t id = config_token(config, key, vocab);
        if (id >= 0) *target = id;
    }
    if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) vocab.add_bos = config["add_bos_token"].get<bool>();
    if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) vocab.add_eos = config["add_eos_token"].get<bool>();
    vocab.add_bos = vocab.add_bos && vocab.bos_id >= 0;
    vocab.add_eos = vocab.add_eos && vocab.eos_id >= 0;
    if (config.contains("chat_template")) {
        const Json& t = config["chat_template"];
        if (t.is_string()) {
            vocab.chat_template = t.get<std::string>();
        } else if (t.is_array()) {  // [{"name": "default", "template": "..."}, ...]
            for (const Json& entry : t) {
                if (entry.is_object() && entry.value("name", Json()) == "default" && entry.value("template", Json()).is_string()) {
                    vocab.chat_template = entry["template"].get<std::string>();
                }
            }
        } else if (!t.is_null()) {
            return Status::error(name + ": chat_template: expected a string or a list of named templates");
        }
    }
    return Status();
}

Status read_tokenizer(const Json& root, const std::string& name, VocabData& vocab) {
    if (!root.is_object()) return Status::error(name + ": expected a JSON object");
    MOE_RETURN_IF_ERROR(read_normalizer(root, name));
    size_t n_entries = 0;
    if (root.contains("model") && root["model"].is_object() && root["model"].contains("vocab")) n_entries += root["model"]["vocab"].size();
    if (root.contains("added_tokens")) n_entries += root["added_tokens"].size();
    MOE_RETURN_IF_ERROR(read_model(root, name, vocab, n_entries));
    MOE_RETURN_IF_ERROR(read_added_tokens(root, name, vocab, n_entries));
    if (vocab.tokens.empty()) return Status::error(name + ": model.vocab: no tokens");
    for (size_t i = 0; i < vocab.tokens.size(); ++i) {  // ids nobody uses
        if (vocab.token_types[i] == TokenType::Undefined) {
            vocab.tokens[i] = "[PAD" + std::to_string(i) + "]";
            vocab.token_types[i] = TokenType::Unused;
        }
    }
    if (root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null()) {
        MOE_RETURN_IF_ERROR(read_pre_step(root["pre_tokenizer"], name + ": pre_tokenizer", vocab, 0));
    }
    if (vocab.pre_regexes.empty()) return Status::error(name + ": pre_tokenizer: no Split regex and no ByteLevel regex");
    name_pre_tokenizer(vocab);
    const Json& model = root["model"];
    if (model.contains("unk_token") && model["unk_token"].is_string()) vocab.unk_id = find_token(vocab, model["unk_token"].get<std::string>());
    read_post_processor(root, vocab);
    return Status();
}

Result<std::string> read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error(path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return Status::error(path + ": read error");
    return ss.str();
}

}  // namespace

Result<VocabData> vocab_from_hf_text(const std::string& tokenizer_json, const std::string& config_json,
                                     const std::string& name) {
    VocabData vocab;
    vocab.source = name;
    vocab.model = "gpt2";
    vocab.dialect = RegexDialect::HuggingFace;
    try {
        auto root = parse_json(tokenizer_json, name);
        if (!root.ok()) return root.status();
        MOE_RETURN_IF_ERROR(read_tokenizer(*root, name, vocab));
        if (!config_json.empty()) {
            const std::string config_name = name + " (tokenizer_config)";
            auto config = parse_json(config_json, config_name);
            if (!config.ok()) return config.status();
            MOE_RETURN_IF_ERROR(read_config(*config, config_name, vocab));
        }
    } catch (const std::exception& e) {  // a type surprise nlohmann reports by throwing
        return Status::error(name + ": " + e.what());
    }
    MOE_RETURN_IF_ERROR(validate_vocab(vocab));
    return vocab;
}

Result<VocabData> vocab_from_hf(const std::string& tokenizer_json_path, const std::string& tokenizer_config_path) {
    auto text = read_text_file(tokenizer_json_path);
    if (!text.ok()) return text.status();
    std::string config;
    if (!tokenizer_config_path.empty()) {
        auto c = read_text_file(tokenizer_config_path);
        if (!c.ok()) return c.status();
        config = std::move(*c);
    }
    auto vocab = vocab_from_hf_text(*text, config, tokenizer_json_path);
    if (!vocab.ok()) return vocab.status();
    if (!tokenizer_config_path.empty()) vocab->source = tokenizer_json_path;
    return vocab;
}

}  // namespace moe
