// A small, fast, fully specified pseudo-random generator: xoshiro256** (Blackman & Vigna) seeded through
// splitmix64. Unlike std::uniform_real_distribution, every step is defined here, so a seed gives the same
// stream on every compiler and standard library (sampling must be reproducible across machines).
#pragma once

#include <cstdint>

namespace moe {

class Rng {
public:
    explicit Rng(uint64_t seed = 0) { reseed(seed); }

    // The four state words come from splitmix64(seed), which never yields an all-zero state.
    void reseed(uint64_t seed) {
        uint64_t x = seed;
        for (uint64_t& s : m_state) s = splitmix64(x);
    }

    uint64_t next_u64() {
        const uint64_t result = rotl(m_state[1] * 5, 7) * 9;
        const uint64_t t = m_state[1] << 17;
        m_state[2] ^= m_state[0];
        m_state[3] ^= m_state[1];
        m_state[1] ^= m_state[2];
        m_state[0] ^= m_state[3];
        m_state[2] ^= t;
        m_state[3] = rotl(m_state[3], 45);
        return result;
    }

    // Uniform in [0, 1): the top 53 bits as a multiple of 2^-53 (exact in a double, never 1.0).
    double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
    // Uniform in [0, 1) with 24 bits (exact in a float).
    float uniform_float() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static uint64_t splitmix64(uint64_t& x) {
        uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }

    uint64_t m_state[4] = {0, 0, 0, 0};
};

}  // namespace moe
