#include "template/chat_template.h"

#include "template/jinja_interpreter.h"
#include "template/jinja_parser.h"

namespace moe {

namespace {

Status located_error(const std::string& source_name, const std::string& source, const jinja::JinjaError& e) {
    size_t line = 0, col = 0;
    jinja::offset_to_line_col(source, e.offset == static_cast<size_t>(-1) ? 0 : e.offset, line, col);
    return Status::error(source_name + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + e.message);
}

}  // namespace

Result<ChatTemplate> ChatTemplate::parse(const std::string& source, const std::string& source_name) {
    ChatTemplate t;
    t.m_source_name = source_name;
    auto normalized = std::make_shared<const std::string>(jinja::normalize_template_source(source));
    t.m_source = normalized;
    try {
        const std::vector<jinja::Token> tokens = jinja::tokenize(*normalized);
        t.m_body = std::make_shared<const jinja::StmtList>(jinja::parse_template(tokens));
    } catch (const jinja::JinjaError& e) {
        return located_error(source_name, *normalized, e);
    } catch (const std::bad_alloc&) {
        return Status::error(source_name + ": out of memory while parsing the template");
    }
    return t;
}

Result<std::string> ChatTemplate::render(const ChatTemplateInputs& inputs) const {
    using jinja::Value;
    auto globals = std::make_shared<jinja::Scope>();
    try {
        jinja::add_globals(*globals, inputs.now_unix_s);
        globals->set("messages", Value::from_json(inputs.messages));
        globals->set("tools", Value::from_json(inputs.tools));
        globals->set("documents", Value::none());
        globals->set("add_generation_prompt", Value::boolean(inputs.add_generation_prompt));
        globals->set("bos_token", Value::string(inputs.bos_token));
        globals->set("eos_token", Value::string(inputs.eos_token));
        if (inputs.extra_context.is_object())
            for (const auto& [key, value] : inputs.extra_context.items()) globals->set(key, Value::from_json(value));
        jinja::Interpreter interpreter(inputs.max_operations, static_cast<size_t>(inputs.max_built_bytes));
        return interpreter.render(*m_body, globals);
    } catch (const jinja::JinjaError& e) {
        return located_error(m_source_name, *m_source, e);
    } catch (const std::bad_alloc&) {
        return Status::error(m_source_name + ": out of memory while rendering the template");
    } catch (const std::exception& e) {  // nlohmann or standard library errors: never let them escape
        return Status::error(m_source_name + ": " + e.what());
    }
}

Result<std::string> render_chat_template(const std::string& template_source, const ChatTemplateInputs& inputs,
                                         const std::string& source_name) {
    Result<ChatTemplate> t = ChatTemplate::parse(template_source, source_name);
    if (!t.ok()) return t.status();
    return t->render(inputs);
}

}  // namespace moe
