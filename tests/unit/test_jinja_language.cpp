// The Jinja language as chat templates use it: every statement, filter, test and method, whitespace
// control, loop variables, scoping, errors with positions and the resource limits.
// tests/data/templates/jinja_cases.json holds templates rendered by jinja2 itself (make_jinja_cases.py,
// HF's environment settings); our renderer must give byte-identical output, or fail where jinja2 fails.
#include <fstream>
#include <sstream>
#include <string>

#include "check.h"
#include "template/chat_template.h"

namespace {

using nlohmann::ordered_json;

moe::ChatTemplateInputs inputs_from(const ordered_json& context) {
    moe::ChatTemplateInputs in;
    in.add_generation_prompt = false;
    ordered_json extra = ordered_json::object();
    for (const auto& [key, value] : context.items()) {
        if (key == "messages") in.messages = value;
        else if (key == "add_generation_prompt") in.add_generation_prompt = value.get<bool>();
        else if (key == "bos_token") in.bos_token = value.get<std::string>();
        else if (key == "eos_token") in.eos_token = value.get<std::string>();
        else extra[key] = value;
    }
    in.extra_context = extra;
    return in;
}

// Renders `src` with no messages; returns the output or "ERROR: <message>".
std::string render(const std::string& src, const ordered_json& context = ordered_json::object()) {
    auto r = moe::render_chat_template(src, inputs_from(context), "t.jinja");
    return r.ok() ? r.value() : "ERROR: " + r.error();
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

MOE_TEST(conformance_cases_match_jinja2) {
    const std::string path = moe_test::data_path("templates/jinja_cases.json");
    REQUIRE(!path.empty());
    std::ifstream f(path);
    const ordered_json doc = ordered_json::parse(f);
    size_t n_checked = 0;
    for (const auto& c : doc["cases"]) {
        const std::string src = c["template"].get<std::string>();
        auto r = moe::render_chat_template(src, inputs_from(c["context"]), "case.jinja");
        if (c.contains("error")) {
            if (r.ok()) moe_test::report_failure(__FILE__, __LINE__, "expected an error for: " + src);
        } else if (!r.ok()) {
            moe_test::report_failure(__FILE__, __LINE__, "failed: " + src + "\n  " + r.error());
        } else if (r.value() != c["expected"].get<std::string>()) {
            moe_test::report_failure(__FILE__, __LINE__, "template: " + src + "\n  expected: " +
                                                             c["expected"].get<std::string>() + "\n  got:      " + r.value());
        }
        ++n_checked;
    }
    CHECK(n_checked >= 120);
}

MOE_TEST(whitespace_control_and_trim_lstrip_blocks) {
    // trim_blocks eats the newline after a block tag; lstrip_blocks the indentation before it.
    CHECK_EQ(render("{% if true %}\n  x\n{% endif %}\ny"), std::string("  x\ny"));
    CHECK_EQ(render("  {% if true %}\n    a\n  {% endif %}\n"), std::string("    a\n"));
    // Variable tags are not blocks: no trimming.
    CHECK_EQ(render("{{ 'a' }}\n{{ 'b' }}"), std::string("a\nb"));
    // Explicit control: - strips all whitespace, + keeps it.
    CHECK_EQ(render("a \n {{- 'b' -}} \n c"), std::string("abc"));
    CHECK_EQ(render("  {%+ if true %}x{% endif %}"), std::string("  x"));
    CHECK_EQ(render("{% if true +%}\nx{% endif %}"), std::string("\nx"));
    // One trailing newline of the template is dropped; CRLF becomes LF.
    CHECK_EQ(render("x\n"), std::string("x"));
    CHECK_EQ(render("x\r\ny\r\n\r\n"), std::string("x\ny\n"));
    CHECK_EQ(render("a{# note #}b{#- trimmed -#}  c"), std::string("abc"));
    CHECK_EQ(render("{% raw %}{{ x }}{% endraw %}"), std::string("{{ x }}"));
}

MOE_TEST(loop_variables_scoping_and_namespace) {
    CHECK_EQ(render("{% for x in 'abc' %}{{ loop.index }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }} {% endfor %}"),
             std::string("12TrueFalse 21FalseFalse 30FalseTrue "));
    CHECK_EQ(render("{% for x in [1,2,3,4] if x is even %}{{ x }}/{{ loop.length }} {% endfor %}"), std::string("2/2 4/2 "));
    // A plain `set` inside a loop is local to the iteration; a namespace carries state out.
    CHECK_EQ(render("{% set n = 0 %}{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set n = n + i %}"
                    "{% set ns.n = ns.n + i %}{% endfor %}{{ n }} {{ ns.n }}"),
             std::string("0 6"));
    CHECK_EQ(render("{% for i in range(9) %}{% if i > 3 %}{% break %}{% endif %}{% if i is odd %}{% continue %}{% endif %}{{ i }}{% endfor %}"),
             std::string("02"));
    CHECK_EQ(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}{{ v }}{% else %}empty{% endfor %}"), std::string("a1b2"));
    CHECK_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), std::string("empty"));
}

MOE_TEST(macros_and_call_blocks) {
    CHECK_EQ(render("{% macro tag(name, body='-') %}<{{ name }}>{{ body }}{% endmacro %}{{ tag('a') }}{{ tag('b', body='x') }}"),
             std::string("<a>-<b>x"));
    CHECK_EQ(render("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}in{% endcall %}"), std::string("[in]"));
    // A macro calling itself forever is stopped by the depth limit, with a message.
    const std::string r = render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}");
    CHECK(starts_with(r, "ERROR: t.jinja:1:"));
    CHECK(r.find("recursion too deep") != std::string::npos);
}

MOE_TEST(undefined_behaves_like_jinja2_default_undefined) {
    CHECK_EQ(render("[{{ missing }}]{{ missing is defined }}{{ missing|length }}{% if missing %}t{% else %}f{% endif %}"),
             std::string("[]False0f"));
    CHECK_EQ(render("{{ d.nokey is defined }}{{ d['nokey'] is none }}{{ d.nokey|default('x') }}", {{"d", {{"a", 1}}}}),
             std::string("FalseFalsex"));
    // Attribute access on an undefined value is an error naming the undefined thing.
    CHECK_EQ(render("{{ missing.attr }}"), std::string("ERROR: t.jinja:1:11: 'missing' is undefined"));
    CHECK_EQ(render("{{ d.nokey.x }}", {{"d", {{"a", 1}}}}), std::string("ERROR: t.jinja:1:11: 'dict object' has no attribute 'nokey'"));
    CHECK(starts_with(render("{{ missing + 1 }}"), "ERROR: t.jinja:1:"));
}

MOE_TEST(raise_exception_becomes_an_error_with_its_message) {
    const std::string src = "{% for m in messages %}\n"
                            "{% if m.role == 'bad' %}\n"
                            "  {{ raise_exception('Conversation roles must alternate user/assistant') }}\n"
                            "{% endif %}\n"
                            "{% endfor %}";
    ordered_json ctx = {{"messages", ordered_json::array({{{"role", "bad"}, {"content", "x"}}})}};
    CHECK_EQ(render(src, ctx), std::string("ERROR: t.jinja:3:21: Conversation roles must alternate user/assistant"));
    ctx["messages"][0]["role"] = "user";
    CHECK_EQ(render(src, ctx), std::string(""));
}

MOE_TEST(syntax_errors_name_line_and_column) {
    CHECK_EQ(render("ok\n{% if x %}\nno end"), std::string("ERROR: t.jinja:3:7: unexpected end of template, expected 'elif' or 'else' or 'endif'"));
    CHECK_EQ(render("{{ 'abc }}"), std::string("ERROR: t.jinja:1:4: unterminated string literal"));
    CHECK_EQ(render("line\n  {% frobnicate %}"), std::string("ERROR: t.jinja:2:6: unknown tag 'frobnicate'"));
    CHECK_EQ(render("{{ 1 + }}"), std::string("ERROR: t.jinja:1:8: unexpected end of print statement '}}'"));
    CHECK_EQ(render("{{ x )}}"), std::string("ERROR: t.jinja:1:6: unexpected ')'"));
    CHECK_EQ(render("{# never closed"), std::string("ERROR: t.jinja:1:1: missing end of comment tag '#}'"));
    CHECK_EQ(render("{% for x in y %}\n{% endif %}"),
             std::string("ERROR: t.jinja:2:4: unexpected 'endif': the innermost open block needs 'else' or 'endfor'"));
    CHECK(starts_with(render("{% break %}"), "ERROR: t.jinja:1:4: 'break' outside of a for loop"));
    CHECK(starts_with(render("{{ x | nosuchfilter }}"), "ERROR: t.jinja:1:8: no filter named 'nosuchfilter'"));
    CHECK(starts_with(render("{{ x is nosuchtest }}"), "ERROR: t.jinja:1:6: no test named 'nosuchtest'"));
}

MOE_TEST(sandbox_and_resource_limits) {
    CHECK(render("{{ range(100001)|length }}").find("Range too big") != std::string::npos);
    CHECK_EQ(render("{{ range(100000)|length }}"), std::string("100000"));
    CHECK(render("{{ 'x' * 100000000 }}").find("too large") != std::string::npos);
    CHECK(render("{% set s = 'abcdefgh' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}").find("16 MiB") != std::string::npos);
    CHECK(render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").find("operations") != std::string::npos);
    CHECK(render("{{ [].append(1) }}").find("unsafe") != std::string::npos);
    CHECK(render("{{ 2 ** 64 }}").find("overflow") != std::string::npos);
    // Deep nesting is refused by the parser instead of overflowing the stack.
    CHECK(render("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nested too deeply") != std::string::npos);
    CHECK(render("{{ " + std::string(20000, '-') + "1 }}").find("nested too deeply") != std::string::npos);
    std::string chain = "{{ 1";
    for (int i = 0; i < 3000; ++i) chain += " + 1";
    CHECK(render(chain + " }}").find("nested too deeply") != std::string::npos);
    // A namespace stored into a namespace would be a reference cycle; nesting of values is capped.
    CHECK(render("{% set ns = namespace(a=1) %}{% set ns.me = ns %}").find("namespace cannot be stored") != std::string::npos);
    CHECK(render("{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = [ns.l] %}{% endfor %}")
              .find("nested more than 128 levels") != std::string::npos);
    // Work on long strings is billed by length, so a loop over big strings ends quickly with a message.
    CHECK(render("{% set s = 'ab' * 4000000 %}{% for i in range(100000) %}{{ s|length }}{% endfor %}").find("operations") != std::string::npos);
    CHECK(render("{% set s = 'a' * 3000 %}{% for i in range(100000) %}{{ s|replace('a', 'bb')|length }}{% endfor %}").find("operations") != std::string::npos);
    std::string ifs;
    for (int i = 0; i < 1000; ++i) ifs += "{% if true %}";
    CHECK(render(ifs).find("nested too deeply") != std::string::npos);
}

MOE_TEST(strftime_now_and_extra_context) {
    moe::ChatTemplateInputs in;
    in.now_unix_s = 86400LL * 400;  // 1971-02-05, a year away from any time-zone edge
    in.extra_context = {{"enable_thinking", true}, {"who", "Ada"}};
    auto r = moe::render_chat_template("{{ strftime_now('%Y') }} {{ enable_thinking }} {{ who }}", in, "t.jinja");
    REQUIRE_OK(r);
    CHECK_EQ(r.value(), std::string("1971 True Ada"));
}

MOE_TEST(tojson_keeps_key_order_and_unicode) {
    moe::ChatTemplateInputs in;
    in.tools = ordered_json::parse(R"([{"type":"function","function":{"name":"get_weather","parameters":{"zeta":1,"alpha":"Zürich"}}}])");
    auto r = moe::render_chat_template("{{ tools[0]|tojson }}\n{{ tools[0].function.parameters|tojson(indent=2) }}", in, "t.jinja");
    REQUIRE_OK(r);
    CHECK_EQ(r.value(), std::string("{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
                                    "{\"zeta\": 1, \"alpha\": \"Zürich\"}}}\n{\n  \"zeta\": 1,\n  \"alpha\": \"Zürich\"\n}"));
    // Without tools the variable is defined and none, as HF passes tools=None.
    CHECK_EQ(render("{{ tools is defined }}{{ tools is none }}"), std::string("TrueTrue"));
}

MOE_TEST(render_budget_is_the_callers) {
    moe::ChatTemplateInputs in;
    in.max_operations = 1000;
    const std::string loop = "{% for i in range(5000) %}{{ i }}{% endfor %}";
    auto small = moe::render_chat_template(loop, in, "budget.jinja");
    REQUIRE(!small.ok());
    CHECK(small.error().find("budget.jinja:1:") != std::string::npos);
    CHECK(small.error().find("exceeded 1000 operations") != std::string::npos);
    in.max_operations = 1'000'000;  // the default renders the same loop
    auto full = moe::render_chat_template(loop, in, "budget.jinja");
    REQUIRE_OK(full);
    CHECK(full->size() > 5000);

    in.max_built_bytes = 1000;
    auto bytes = moe::render_chat_template("{% set s = 'x' * 600 %}{{ s ~ s }}", in, "bytes.jinja");
    REQUIRE(!bytes.ok());
    CHECK(bytes.error().find("more than 1000 bytes of strings") != std::string::npos);
}

MOE_TEST(repeating_an_empty_sequence_is_immediate) {
    // Found by libFuzzer: `[] * 11000000000` looped eleven billion times.
    CHECK_EQ(render("{% set l = [] * 11000000000 %}{{ l|length }}"), std::string("0"));
    CHECK_EQ(render("{{ ('' * 11000000000)|length }}"), std::string("0"));
    CHECK_EQ(render("{{ (() * 11000000000)|length }}"), std::string("0"));
}
