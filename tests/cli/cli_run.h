// Running the moewb program from a test: exit code and stdout, stderr read back from a file.
#pragma once

#include "check.h"

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/wait.h>

namespace {

struct RunResult {
    int exit_code = -1;
    std::string out;
};

// Runs moewb with `args` (already shell-quoted), capturing stdout; stderr goes to a file we read back.
inline RunResult run_moewb(const std::string& args, std::string* err = nullptr) {
    const std::string err_path = moe_test::temp_dir() + "/stderr.txt";
    const std::string cmd = std::string("'") + MOE_MOEWB_PATH + "' " + args + " 2>'" + err_path + "'";
    RunResult r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (err != nullptr) {
        std::ifstream f(err_path);
        err->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    return r;
}

inline std::string quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace
