// A small command-line parser for moewb subcommands: positional arguments, --flag, --key value, -k value.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace moe::cli {

class Args {
public:
    // `flags` are options without a value (--json); every other --name / -n takes the next argument.
    // Unknown options are reported by error().
    Args(int argc, char** argv, int first, const std::set<std::string>& flags, const std::set<std::string>& options);

    const std::string& error() const { return m_error; }
    bool flag(const std::string& name) const { return m_flags.count(name) != 0; }
    std::optional<std::string> value(const std::string& name) const;
    const std::vector<std::string>& positional() const { return m_positional; }

private:
    std::set<std::string> m_flags;
    std::map<std::string, std::string> m_values;
    std::vector<std::string> m_positional;
    std::string m_error;
};

}  // namespace moe::cli
