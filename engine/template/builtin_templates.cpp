// Built-in chat templates for models that carry none. They render the formats of spec §5.3; the DeepSeek
// ones produce the same strings as the official templates for plain conversations (checked in
// tests/unit/test_chat_template.cpp) and the tool-call layout of §5.3.
#include <array>
#include <utility>

#include "template/chat_template.h"

namespace moe {

namespace {

// DeepSeek LLM / MoE-16B-chat / V2(-Lite)-Chat. Keeps llama.cpp's detection substring
// "'Assistant: ' + message['content'] + eos_token".
const char* const k_deepseek_llm = R"TPL({{- bos_token -}}
{%- for message in messages -%}
  {%- if message['role'] == 'user' -%}
    {{- 'User: ' + message['content'] + '\n\n' -}}
  {%- elif message['role'] == 'assistant' -%}
    {{- 'Assistant: ' + message['content'] + eos_token -}}
  {%- elif message['role'] == 'system' -%}
    {{- message['content'] + '\n\n' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- 'Assistant:' -}}
{%- endif -%})TPL";

// DeepSeek-V3 and R1 share this body; R1 adds <think> handling (the two placeholders below).
const char* const k_deepseek_v3_body = R"TPL({%- set ns = namespace(system='', in_outputs=false) -%}
{%- for message in messages if message['role'] == 'system' -%}
  {%- set ns.system = message['content'] if loop.first else ns.system + '\n\n' + message['content'] -%}
{%- endfor -%}
{{- bos_token + ns.system -}}
{%- for message in messages -%}
  {%- if message['role'] == 'user' -%}
    {%- set ns.in_outputs = false -%}
    {{- '<｜User｜>' + message['content'] -}}
  {%- elif message['role'] == 'assistant' and message['tool_calls'] -%}
    {%- set ns.in_outputs = false -%}
    {{- '<｜Assistant｜>' + (message['content'] if message['content'] is string else '') + '<｜tool▁calls▁begin｜>' -}}
    {%- for call in message['tool_calls'] -%}
      {%- set args = call['function']['arguments'] -%}
      {{- ('\n' if not loop.first else '') + '<｜tool▁call▁begin｜>' + (call['type'] | default('function')) + '<｜tool▁sep｜>' + call['function']['name'] -}}
      {{- '\n```json\n' + (args if args is string else args | tojson) + '\n```<｜tool▁call▁end｜>' -}}
    {%- endfor -%}
    {{- '<｜tool▁calls▁end｜><｜end▁of▁sentence｜>' -}}
  {%- elif message['role'] == 'assistant' -%}
    {%- set content = message['content'] if message['content'] is string else '' -%}
    @@STRIP_THINK@@
    {%- if ns.in_outputs -%}
      {{- '<｜tool▁outputs▁end｜>' + content + '<｜end▁of▁sentence｜>' -}}
      {%- set ns.in_outputs = false -%}
    {%- else -%}
      {{- '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' -}}
    {%- endif -%}
  {%- elif message['role'] == 'tool' -%}
    {{- ('\n' if ns.in_outputs else '<｜tool▁outputs▁begin｜>') + '<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>' -}}
    {%- set ns.in_outputs = true -%}
  {%- endif -%}
{%- endfor -%}
{%- if ns.in_outputs -%}
  {{- '<｜tool▁outputs▁end｜>' -}}
{%- endif -%}
{%- if add_generation_prompt and not ns.in_outputs -%}
  {{- '<｜Assistant｜>@@PROMPT_SUFFIX@@' -}}
{%- endif -%})TPL";

const char* const k_chatml = R"TPL({%- for message in messages -%}
  {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\n' -}}
{%- endif -%})TPL";

const char* const k_llama3 = R"TPL({{- bos_token -}}
{%- for message in messages -%}
  {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
{%- endif -%})TPL";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

std::string deepseek_v3(bool r1) {
    std::string t = k_deepseek_v3_body;
    t = replace_all(t, "@@STRIP_THINK@@",
                    r1 ? "{%- if '</think>' in content -%}{%- set content = content.split('</think>')[-1] -%}{%- endif -%}" : "");
    return replace_all(t, "@@PROMPT_SUFFIX@@", r1 ? "<think>\\n" : "");
}

}  // namespace

std::vector<std::string> builtin_chat_template_names() {
    return {"deepseek-llm", "deepseek-v3", "deepseek-r1", "chatml", "llama3"};
}

Result<std::string> builtin_chat_template(const std::string& name) {
    if (name == "deepseek-llm") return std::string(k_deepseek_llm);
    if (name == "deepseek-v3") return deepseek_v3(false);
    if (name == "deepseek-r1") return deepseek_v3(true);
    if (name == "chatml") return std::string(k_chatml);
    if (name == "llama3") return std::string(k_llama3);
    std::string known;
    for (const auto& n : builtin_chat_template_names()) known += (known.empty() ? "" : ", ") + n;
    return Status::error("unknown built-in chat template '" + name + "' (known: " + known + ")");
}

std::string guess_builtin_template(const std::string& architecture, const std::string& pre_tokenizer_name) {
    if (pre_tokenizer_name == "deepseek-v3") return "deepseek-v3";
    if (pre_tokenizer_name == "deepseek-r1") return "deepseek-r1";
    if (pre_tokenizer_name == "deepseek-llm") return "deepseek-llm";
    if (pre_tokenizer_name == "llama-bpe" || pre_tokenizer_name == "llama3") return "llama3";
    if (architecture == "deepseek" || architecture == "deepseek2") return "deepseek-llm";
    if (architecture == "deepseek_v3" || architecture == "deepseek3") return "deepseek-v3";
    return "chatml";
}

}  // namespace moe
