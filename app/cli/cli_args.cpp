#include "cli_args.h"

namespace moe::cli {

Args::Args(int argc, char** argv, int first, const std::set<std::string>& flags,
           const std::set<std::string>& options) {
    bool only_positional = false;
    for (int i = first; i < argc; ++i) {
        const std::string a = argv[i];
        if (only_positional || a.size() < 2 || a[0] != '-') {
            m_positional.push_back(a);
            continue;
        }
        if (a == "--") {
            only_positional = true;
            continue;
        }
        std::string name = a;
        std::string inline_value;
        bool has_inline = false;
        if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            name = a.substr(0, eq);
            inline_value = a.substr(eq + 1);
            has_inline = true;
        }
        if (flags.count(name) != 0 && !has_inline) {
            m_flags.insert(name);
        } else if (options.count(name) != 0) {
            if (has_inline) {
                m_values[name] = inline_value;
            } else if (i + 1 < argc) {
                m_values[name] = argv[++i];
            } else if (m_error.empty()) {
                m_error = "option " + name + " needs a value";
            }
        } else if (m_error.empty()) {
            m_error = "unknown option " + name;
        }
    }
}

std::optional<std::string> Args::value(const std::string& name) const {
    const auto it = m_values.find(name);
    if (it == m_values.end()) return std::nullopt;
    return it->second;
}

}  // namespace moe::cli
