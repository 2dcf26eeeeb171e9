// Chat templates of the DeepSeek families rendered exactly as HF transformers renders them (spec §5.3):
// the real templates from the models' tokenizer_config.json (tests/data/templates/), the built-in
// fallbacks, and the ChatTemplate API.
#include <fstream>
#include <sstream>
#include <string>

#include "check.h"
#include "template/chat_template.h"

namespace {

using nlohmann::ordered_json;

const std::string k_bos = "<｜begin▁of▁sentence｜>";
const std::string k_eos = "<｜end▁of▁sentence｜>";

std::string read_template(const std::string& name) {
    const std::string path = moe_test::data_path("templates/" + name);
    if (path.empty()) return {};
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

moe::ChatTemplateInputs conversation(const ordered_json& messages, bool add_generation_prompt = true) {
    moe::ChatTemplateInputs in;
    in.messages = messages;
    in.add_generation_prompt = add_generation_prompt;
    in.bos_token = k_bos;
    in.eos_token = k_eos;
    return in;
}

std::string render_file(const std::string& file, const moe::ChatTemplateInputs& in) {
    const std::string src = read_template(file);
    REQUIRE(!src.empty());
    auto r = moe::render_chat_template(src, in, file);
    return r.ok() ? r.value() : "ERROR: " + r.error();
}

std::string render_builtin(const std::string& name, const moe::ChatTemplateInputs& in) {
    auto src = moe::builtin_chat_template(name);
    REQUIRE_OK(src);
    auto r = moe::render_chat_template(src.value(), in, "builtin:" + name);
    return r.ok() ? r.value() : "ERROR: " + r.error();
}

const ordered_json k_two_turns = ordered_json::parse(R"([
  {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "More"}])");
const ordered_json k_with_system = ordered_json::parse(R"([
  {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
  {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "More"}])");
const ordered_json k_thinking = ordered_json::parse(R"([
  {"role": "user", "content": "2+2?"},
  {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
  {"role": "user", "content": "3+3?"}])");
const ordered_json k_tools = ordered_json::parse(R"([
  {"role": "user", "content": "Weather in Paris?"},
  {"role": "assistant", "content": null, "tool_calls": [
    {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
  {"role": "tool", "content": "18C"},
  {"role": "assistant", "content": "It is 18C."}])");

}  // namespace

MOE_TEST(deepseek_v3_real_template_matches_reference_cases) {
    const std::string src = read_template("deepseek-v3.jinja");
    REQUIRE(!src.empty());
    auto tmpl = moe::ChatTemplate::parse(src, "deepseek-v3/tokenizer_config.json:chat_template");
    REQUIRE_OK(tmpl);
    std::ifstream f(moe_test::data_path("templates/deepseek-v3-cases.json"));
    const ordered_json doc = ordered_json::parse(f);
    size_t n = 0;
    for (const auto& c : doc["cases"]) {
        const auto in = conversation(c["messages"], c["add_generation_prompt"].get<bool>());
        auto r = tmpl->render(in);
        REQUIRE_OK(r);
        CHECK_EQ(r.value(), c["expected"].get<std::string>());
        // The built-in deepseek-v3 template renders the same strings.
        CHECK_EQ(render_builtin("deepseek-v3", in), c["expected"].get<std::string>());
        ++n;
    }
    CHECK_EQ(n, size_t(4));
}

MOE_TEST(deepseek_v2_lite_chat_template_matches_spec) {
    const auto in = conversation(k_two_turns);
    const std::string expected = k_bos + "User: Hi\n\nAssistant: Hello" + k_eos + "User: More\n\nAssistant:";
    CHECK_EQ(render_file("deepseek-v2-lite-chat.jinja", in), expected);
    CHECK_EQ(render_builtin("deepseek-llm", in), expected);
    const auto sys = conversation(k_with_system, false);
    const std::string expected_sys = k_bos + "Be brief.\n\nUser: Hi\n\nAssistant: Hello" + k_eos + "User: More\n\n";
    CHECK_EQ(render_file("deepseek-v2-lite-chat.jinja", sys), expected_sys);
    CHECK_EQ(render_builtin("deepseek-llm", sys), expected_sys);
}

MOE_TEST(deepseek_r1_template_strips_thinking_and_opens_think) {
    const auto in = conversation(k_thinking);
    const std::string expected = k_bos + "<｜User｜>2+2?<｜Assistant｜>\n\n4" + k_eos + "<｜User｜>3+3?<｜Assistant｜><think>\n";
    CHECK_EQ(render_file("deepseek-r1-distill-qwen-32b.jinja", in), expected);
    CHECK_EQ(render_builtin("deepseek-r1", in), expected);
    // System prompt right after BOS, no role tag.
    const std::string with_system = k_bos + "Be brief.<｜User｜>Hi<｜Assistant｜>Hello" + k_eos + "<｜User｜>More<｜Assistant｜><think>\n";
    CHECK_EQ(render_file("deepseek-r1-distill-qwen-32b.jinja", conversation(k_with_system)), with_system);
    CHECK_EQ(render_builtin("deepseek-r1", conversation(k_with_system)), with_system);
}

MOE_TEST(deepseek_r1_template_tool_calls_and_outputs) {
    const std::string expected =
        k_bos + "<｜User｜>Weather in Paris?<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
                "```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>" + k_eos +
        "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>18C<｜tool▁output▁end｜><｜tool▁outputs▁end｜>It is 18C." + k_eos;
    CHECK_EQ(render_file("deepseek-r1-distill-qwen-32b.jinja", conversation(k_tools, false)), expected);
    CHECK_EQ(render_builtin("deepseek-r1", conversation(k_tools, false)), expected);
    CHECK_EQ(render_builtin("deepseek-v3", conversation(k_tools, false)), expected);
    // The generation prompt is withheld while tool outputs are open.
    ordered_json open_outputs = k_tools;
    open_outputs.erase(open_outputs.size() - 1);
    const std::string r = render_file("deepseek-r1-distill-qwen-32b.jinja", conversation(open_outputs, true));
    CHECK(r.size() > 20 && r.substr(r.size() - std::string("<｜tool▁outputs▁end｜>").size()) == "<｜tool▁outputs▁end｜>");
}

MOE_TEST(deepseek_v3_1_template_thinking_switch) {
    auto in = conversation(k_thinking);
    const std::string base = k_bos + "<｜User｜>2+2?<｜Assistant｜></think>\n\n4" + k_eos + "<｜User｜>3+3?<｜Assistant｜>";
    CHECK_EQ(render_file("deepseek-v3.1.jinja", in), base + "</think>");
    in.extra_context = {{"thinking", true}};
    CHECK_EQ(render_file("deepseek-v3.1.jinja", in), base + "<think>");
}

MOE_TEST(chatml_and_llama3_builtins) {
    const auto in = conversation(k_with_system);
    CHECK_EQ(render_builtin("chatml", in),
             std::string("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
                         "Hello<|im_end|>\n<|im_start|>user\nMore<|im_end|>\n<|im_start|>assistant\n"));
    auto llama = conversation(ordered_json::parse(R"([{"role":"user","content":"  Hi \n"}])"));
    llama.bos_token = "<|begin_of_text|>";
    CHECK_EQ(render_builtin("llama3", llama),
             std::string("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                         "<|start_header_id|>assistant<|end_header_id|>\n\n"));
    llama.add_generation_prompt = false;
    CHECK_EQ(render_builtin("llama3", llama),
             std::string("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"));
}

MOE_TEST(qwen_style_chatml_template_from_source) {
    // A Qwen2-style template: a default system prompt when none is given, loop.first, add_generation_prompt.
    const std::string src =
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    auto r = moe::render_chat_template(src, conversation(ordered_json::parse(R"([{"role":"user","content":"Hi"}])")), "qwen.jinja");
    REQUIRE_OK(r);
    CHECK_EQ(r.value(), std::string("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                                    "<|im_start|>assistant\n"));
}

MOE_TEST(builtin_names_and_guessing) {
    for (const auto& name : moe::builtin_chat_template_names()) {
        auto src = moe::builtin_chat_template(name);
        REQUIRE_OK(src);
        REQUIRE_OK(moe::ChatTemplate::parse(src.value(), name));
    }
    auto unknown = moe::builtin_chat_template("nope");
    CHECK(!unknown.ok());
    CHECK(unknown.error().find("deepseek-llm") != std::string::npos);
    CHECK_EQ(moe::guess_builtin_template("deepseek2", "deepseek-v3"), std::string("deepseek-v3"));
    CHECK_EQ(moe::guess_builtin_template("deepseek2", "deepseek-llm"), std::string("deepseek-llm"));
    CHECK_EQ(moe::guess_builtin_template("deepseek", "deepseek-llm"), std::string("deepseek-llm"));
    CHECK_EQ(moe::guess_builtin_template("deepseek2", ""), std::string("deepseek-llm"));
    CHECK_EQ(moe::guess_builtin_template("llama", "llama-bpe"), std::string("llama3"));
    CHECK_EQ(moe::guess_builtin_template("qwen2", "qwen2"), std::string("chatml"));
    // The deepseek-llm builtin keeps the substring llama.cpp uses to recognise this family.
    CHECK(moe::builtin_chat_template("deepseek-llm").value().find("'Assistant: ' + message['content'] + eos_token") != std::string::npos);
}

MOE_TEST(parsed_template_renders_many_times_and_reports_its_name) {
    auto tmpl = moe::ChatTemplate::parse("{% for m in messages %}{{ m.content }}{% endfor %}", "model.gguf:tokenizer.chat_template");
    REQUIRE_OK(tmpl);
    CHECK_EQ(tmpl->source_name(), std::string("model.gguf:tokenizer.chat_template"));
    const moe::ChatTemplate copy = tmpl.value();
    for (int i = 0; i < 3; ++i) {
        auto r = copy.render(conversation(k_two_turns));
        REQUIRE_OK(r);
        CHECK_EQ(r.value(), std::string("HiHelloMore"));
    }
    auto bad = moe::ChatTemplate::parse("{% for m in messages %}", "model.gguf:tokenizer.chat_template");
    CHECK(!bad.ok());
    CHECK_EQ(bad.error(), std::string("model.gguf:tokenizer.chat_template:1:24: unexpected end of template, expected 'else' or 'endfor'"));
    // A runtime error names the source too: content is none here, and str + None is a TypeError.
    auto r = moe::render_chat_template(read_template("deepseek-v3.jinja"),
                                       conversation(ordered_json::parse(R"([{"role":"user","content":null}])")), "v3.jinja");
    CHECK(!r.ok());
    CHECK(r.error().rfind("v3.jinja:3:208: ", 0) == 0);  // the template has raw newlines inside a string literal
    CHECK(r.error().find("can only concatenate str") != std::string::npos);
}

MOE_TEST(long_conversation_renders_within_the_limits) {
    // 4000 turns of 500 characters (about 2 MB of prompt) stay far below the operation budget.
    ordered_json messages = ordered_json::array();
    messages.push_back({{"role", "system"}, {"content", "You are terse."}});
    for (int i = 0; i < 2000; ++i) {
        messages.push_back({{"role", "user"}, {"content", std::string(500, 'u')}});
        messages.push_back({{"role", "assistant"}, {"content", "<think>x</think>" + std::string(500, 'a')}});
    }
    const std::string r1 = render_file("deepseek-r1-distill-qwen-32b.jinja", conversation(messages, false));
    const size_t user_tag = std::string("<｜User｜>").size(), assistant_tag = std::string("<｜Assistant｜>").size();
    CHECK_EQ(r1.size(), k_bos.size() + 14 + 2000 * (500 + 500 + user_tag + assistant_tag + k_eos.size()));
    const std::string v3 = render_file("deepseek-v3.jinja", conversation(messages, false));
    CHECK(v3.rfind("ERROR", 0) != 0);
}

MOE_TEST(plain_json_messages_convert) {
    // Callers holding nlohmann::json (sorted keys) can pass it directly.
    nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", "Hi"}}});
    moe::ChatTemplateInputs in;
    in.messages = messages;
    in.bos_token = k_bos;
    auto r = moe::render_chat_template(moe::builtin_chat_template("deepseek-v3").value(), in, "v3");
    REQUIRE_OK(r);
    CHECK_EQ(r.value(), k_bos + "<｜User｜>Hi<｜Assistant｜>");
}
