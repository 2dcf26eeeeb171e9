// Benchmark results in SQLite (one table, keyed by commit, machine, device and model), so two commits can be
// compared: `sqlite3 ~/.local/share/moe-workbench/bench.sqlite 'select * from bench_results'`.
#pragma once

#include "core/status.h"

#include <string>

namespace moe::cli {

struct BenchRecord {
    std::string commit;
    std::string machine;
    std::string device;
    std::string model;
    std::string benchmark;     // "moewb bench", "membw"
    std::string figures_json;  // the JSON object `--json` prints
};

// $MOE_BENCH_DB, else $XDG_DATA_HOME/moe-workbench/bench.sqlite, else ~/.local/share/moe-workbench/bench.sqlite.
std::string default_bench_db_path();
// Appends one row (creating the file and table when needed). Errors name the database file.
Status append_bench_record(const std::string& db_path, const BenchRecord& record);
// The commit this program measures: $MOE_COMMIT, else `git rev-parse --short HEAD` of the source tree (with
// "-dirty" when it has uncommitted changes), else the commit it was configured at.
std::string current_commit();
std::string machine_name();

}  // namespace moe::cli
