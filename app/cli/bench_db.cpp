#include "bench_db.h"

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

namespace moe::cli {

namespace {

std::string run_command(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

}  // namespace

std::string default_bench_db_path() {
    if (const char* env = std::getenv("MOE_BENCH_DB"); env && *env) return env;
    std::string base;
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
        base = xdg;
    } else if (const char* home = std::getenv("HOME"); home && *home) {
        base = std::string(home) + "/.local/share";
    } else {
        base = "/tmp";
    }
    return base + "/moe-workbench/bench.sqlite";
}

std::string current_commit() {
    if (const char* env = std::getenv("MOE_COMMIT"); env && *env) return env;
    const std::string dir = MOE_SOURCE_DIR;
    const std::string head = run_command("git -C '" + dir + "' rev-parse --short=12 HEAD 2>/dev/null");
    if (!head.empty()) {
        const std::string dirty = run_command("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null");
        return dirty.empty() ? head : head + "-dirty";
    }
    return MOE_GIT_COMMIT;
}

std::string machine_name() {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) != 0) return "unknown";
    return host;
}

Status append_bench_record(const std::string& db_path, const BenchRecord& r) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(db_path).parent_path(), ec);
    sqlite3* raw = nullptr;
    if (sqlite3_open(db_path.c_str(), &raw) != SQLITE_OK) {
        const std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
        sqlite3_close(raw);
        return Status::error(db_path + ": cannot open the benchmark database: " + msg);
    }
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close);
    const char* schema =
        "PRAGMA busy_timeout = 5000;"
        "CREATE TABLE IF NOT EXISTS bench_results ("
        " id INTEGER PRIMARY KEY, created_at_ms INTEGER NOT NULL, commit_id TEXT NOT NULL, machine TEXT NOT NULL,"
        " device TEXT NOT NULL, model TEXT NOT NULL, benchmark TEXT NOT NULL, figures_json TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS bench_results_key ON bench_results(model, device, commit_id);";
    char* err = nullptr;
    if (sqlite3_exec(db.get(), schema, nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string msg = err ? err : "?";
        sqlite3_free(err);
        return Status::error(db_path + ": " + msg);
    }
    sqlite3_stmt* stmt = nullptr;
    const char* sql = "INSERT INTO bench_results (created_at_ms, commit_id, machine, device, model, benchmark, figures_json)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)";
    if (sqlite3_prepare_v2(db.get(), sql, -1, &stmt, nullptr) != SQLITE_OK)
        return Status::error(db_path + ": " + sqlite3_errmsg(db.get()));
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    sqlite3_bind_int64(stmt, 1, now_ms);
    const std::string* texts[] = {&r.commit, &r.machine, &r.device, &r.model, &r.benchmark, &r.figures_json};
    for (int i = 0; i < 6; ++i) sqlite3_bind_text(stmt, i + 2, texts[i]->c_str(), -1, SQLITE_TRANSIENT);
    const int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return Status::error(db_path + ": " + sqlite3_errmsg(db.get()));
    return {};
}

}  // namespace moe::cli
