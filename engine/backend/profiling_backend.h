// A Backend that times every op of another one: where a forward pass spends its time, per op and weight type,
// with the weight bytes each op read (so a slow kind of product shows as a low GB/s). `moewb bench --profile`
// prints it; the CUDA plugin can be wrapped the same way. Timing costs two clock reads per op (~50 ns).
#pragma once

#include "backend/backend.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace moe {

struct OpProfileEntry {
    std::string name;  // "matmul q8_0", "moe_ffn f16", "mla_attention", ...
    int64_t calls = 0;
    double seconds = 0.0;
    uint64_t weight_bytes = 0;  // weights read by these calls (0 for ops without weights)
};

class OpProfile {
public:
    void add(const std::string& name, double seconds, uint64_t weight_bytes);
    void clear() { m_entries.clear(); }
    // Entries by descending time.
    std::vector<OpProfileEntry> entries() const;
    double total_seconds() const;

private:
    std::map<std::string, OpProfileEntry> m_entries;
};

// Wraps `inner`; every op is timed into `profile` (which must outlive the wrapper).
std::unique_ptr<Backend> make_profiling_backend(std::unique_ptr<Backend> inner, OpProfile& profile);

// The profile as a table: op, calls, ms per call, share of the time, weight GB/s.
std::string format_op_profile(const OpProfile& profile, int64_t per_tokens);

}  // namespace moe
