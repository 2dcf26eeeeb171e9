// Chat templates: renders a model's own Jinja chat template (tokenizer_config.json "chat_template" or GGUF
// "tokenizer.chat_template") exactly as HF transformers' apply_chat_template does: jinja2's
// ImmutableSandboxedEnvironment with trim_blocks=True, lstrip_blocks=True and the loopcontrols extension,
// HF's tojson (json.dumps, ensure_ascii=False, key order kept) and its raise_exception / strftime_now
// globals; `tools` and `documents` are defined (none when absent) as HF passes them.
// Built-in templates cover models that carry none.
//
// Language: {{ }}, {% %}, {# #}, whitespace control, raw; if/elif/else, for (loop.*, else, `if` filter,
// tuple targets), set (names, tuples, ns.attr, block set), macro, call, filter, break, continue; the
// jinja2 expression grammar with Python semantics; the filters, tests, string/dict/list methods and
// globals listed in jinja_filters.cpp and jinja_methods.cpp. tests/data/templates/jinja_cases.json holds
// the cases checked byte for byte against jinja2.
// Known differences from jinja2 (none matter to chat templates seen so far):
//  - integers are 64-bit: overflow is an error instead of a big integer;
//  - upper()/lower() map Latin, Greek and Cyrillic letters only; title() maps ASCII;
//  - no printf-style `%` on strings, no recursive for loops, no include/import/extends/block;
//  - a namespace may not be stored inside a namespace (it could form a reference cycle);
//  - limits, each an error naming its position: 1,000,000 operations (long strings count by length),
//    16 MiB per string and for the output, 256 MiB of strings built per render, 1,048,576 list items,
//    range() of at most 100,000 items (as the jinja2 sandbox), values nested 128 deep, expressions
//    nested 256 deep, 128 nested blocks, 400 levels of nested evaluation (recursive macros stop there).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace moe {

namespace jinja {
struct Stmt;
}

// What the template sees. Key order of JSON objects is kept (tojson prints keys as given), hence
// ordered_json; a plain nlohmann::json converts implicitly.
struct ChatTemplateInputs {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{"role": ..., "content": ...}]
    bool add_generation_prompt = true;
    std::string bos_token;
    std::string eos_token;
    nlohmann::ordered_json tools;  // null when none: templates see `tools` defined as none, as under HF
    // More template variables (enable_thinking, documents, pad_token, ...); they override the above.
    nlohmann::ordered_json extra_context = nlohmann::ordered_json::object();
    int64_t now_unix_s = -1;  // what strftime_now() formats (local time); < 0: the current time
    // Budget of one render: evaluated operations and bytes of strings built. A chat template needs a few
    // thousand operations per message; the defaults stop runaway templates in about a second.
    uint64_t max_operations = 1'000'000;
    uint64_t max_built_bytes = 256u << 20;
};

// A parsed template; parse once, render many times. Copies share the parsed tree.
class ChatTemplate {
public:
    // Parses `source`. A syntax error gives "<source_name>:<line>:<col>: <problem>".
    static Result<ChatTemplate> parse(const std::string& source, const std::string& source_name);

    // Renders the conversation. Errors (type errors, undefined values used, raise_exception(msg), limits
    // on output size, operations or recursion) give "<source_name>:<line>:<col>: <problem>".
    Result<std::string> render(const ChatTemplateInputs& inputs) const;

    const std::string& source_name() const { return m_source_name; }

private:
    std::string m_source_name;
    std::shared_ptr<const std::string> m_source;  // normalized text, for line:col of render errors
    std::shared_ptr<const std::vector<std::unique_ptr<jinja::Stmt>>> m_body;
};

// Parse + render in one call.
Result<std::string> render_chat_template(const std::string& template_source, const ChatTemplateInputs& inputs,
                                         const std::string& source_name);

// Built-in templates, by name: "deepseek-llm" (DeepSeek LLM / MoE-16B / V2 "User: ...\n\nAssistant:"),
// "deepseek-v3", "deepseek-r1" (<think> stripping and "<｜Assistant｜><think>\n" prompt), "chatml", "llama3".
// Unknown names give an error listing the known ones.
Result<std::string> builtin_chat_template(const std::string& name);
std::vector<std::string> builtin_chat_template_names();

// The built-in template that suits a model without its own, from GGUF general.architecture and
// tokenizer.ggml.pre (or the HF equivalents): "deepseek-v3" for the deepseek-v3 pre-tokenizer,
// "deepseek-llm" for deepseek-llm / other DeepSeek (v1, v2) models, "llama3" for llama-bpe, else "chatml".
std::string guess_builtin_template(const std::string& architecture, const std::string& pre_tokenizer_name);

}  // namespace moe
