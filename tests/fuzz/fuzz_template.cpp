// Fuzz target for the Jinja chat-template engine: the input bytes are a template, parsed and rendered
// against a fixed conversation (system, user, assistant with <think>, a tool call and its output).
// Every input must give a value or an error message; never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>

#include "template/chat_template.h"

namespace {

const moe::ChatTemplateInputs& fixed_inputs() {
    static const moe::ChatTemplateInputs inputs = [] {
        moe::ChatTemplateInputs in;
        in.messages = nlohmann::ordered_json::parse(R"([
          {"role": "system", "content": "You are terse."},
          {"role": "user", "content": "Weather in Zürich? ✓"},
          {"role": "assistant", "content": null, "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Zürich\"}"}}]},
          {"role": "tool", "content": "18C"},
          {"role": "assistant", "content": "<think>\nok\n</think>\n\nIt is 18C."},
          {"role": "user", "content": "Thanks"}])");
        in.tools = nlohmann::ordered_json::parse(
            R"([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
                "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
        in.add_generation_prompt = true;
        in.bos_token = "<｜begin▁of▁sentence｜>";
        in.eos_token = "<｜end▁of▁sentence｜>";
        in.extra_context = {{"enable_thinking", true}, {"n", 3}, {"items", {1, "two", 3.5, nullptr}}};
        in.now_unix_s = 0;
        // A smaller budget than a real render's keeps runaway inputs cheap, so the fuzzer explores more
        // inputs per second; the limit checks themselves are the same code.
        in.max_operations = 20000;
        in.max_built_bytes = 4u << 20;
        return in;
    }();
    return inputs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string source(reinterpret_cast<const char*>(data), size);
    auto tmpl = moe::ChatTemplate::parse(source, "fuzz.jinja");
    if (!tmpl.ok()) return 0;
    auto out = tmpl->render(fixed_inputs());
    (void)out;
    return 0;
}
