// The sampling chain of sampler.h. Shapes: logits [n_vocab] floats; candidates are (id, logit, p) triples.
#include "runtime/sampler.h"

#include <algorithm>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <cassert>
#include <cfloat>
#include <cmath>
#include <limits>
#include <sstream>

namespace moe {

namespace {

constexpr float k_neg_inf = -std::numeric_limits<float>::infinity();

// NaN -> -inf (never chosen), +inf -> FLT_MAX (so logit - max stays finite in the softmax).
inline float clean_logit(float x) { return std::isnan(x) ? k_neg_inf : std::min(x, FLT_MAX); }

std::string value_text(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

Status range_error(const char* field, const char* range, double v) {
    return Status::error(std::string(field) + ": must be " + range + ", got " + value_text(v));
}

// Candidate order everywhere: higher logit first, then lower id (deterministic ties).
struct Better {
    template <class C>
    bool operator()(const C& a, const C& b) const {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    }
};

// The largest of x[0..n) ignoring NaN (-inf if none): four 8-lane chains (one chain would be bound by the latency
// of each compare). max(x, m) keeps m when x is NaN.
float max_ignoring_nan(const float* x, int32_t n) {
    int32_t i = 0;
    float m = k_neg_inf;
#if defined(__AVX2__)
    __m256 a0 = _mm256_set1_ps(k_neg_inf), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_max_ps(_mm256_loadu_ps(x + i), a0);
        a1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_max_ps(_mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_max_ps(_mm256_loadu_ps(x + i + 24), a3);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3)));
    for (const float v : lanes) m = v > m ? v : m;
#endif
    for (; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
}

// The first i in [0, n) with x[i] == v (v not NaN), or n.
int32_t find_first(const float* x, int32_t n, float v) {
    int32_t i = 0;
#if defined(__AVX2__)
    const __m256 b = _mm256_set1_ps(v);
    for (; i + 32 <= n; i += 32) {
        const __m256 e = _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), b, _CMP_EQ_OQ),
                                                   _mm256_cmp_ps(_mm256_loadu_ps(x + i + 8), b, _CMP_EQ_OQ)),
                                      _mm256_or_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i + 16), b, _CMP_EQ_OQ),
                                                   _mm256_cmp_ps(_mm256_loadu_ps(x + i + 24), b, _CMP_EQ_OQ)));
        if (_mm256_movemask_ps(e) != 0) break;
    }
#endif
    for (; i < n; ++i)
        if (x[i] == v) return i;
    return n;
}

}  // namespace

// Argmax: the largest clean logit (a vectorised maximum), then the first id holding it, so a tie keeps the lower
// id. 102400 logits (in L2): 14.8 -> 4.3 us.
int32_t greedy_token(std::span<const float> logits) {
    if (logits.empty()) return -1;
    const auto n = static_cast<int32_t>(logits.size());
    const float* x = logits.data();
    const float best = clean_logit(max_ignoring_nan(x, n));
    if (best > k_neg_inf && best < FLT_MAX) return find_first(x, n, best);
    // Every logit NaN or -inf, or the maximum +inf / FLT_MAX: the first clean logit equal to it.
    for (int32_t i = 0; i < n; ++i)
        if (clean_logit(x[i]) == best) return i;
    return 0;
}

Status validate_sampler_params(const SamplerParams& p) {
    if (!std::isfinite(p.temperature)) return range_error("temperature", "a finite number (<= 0 for greedy)", p.temperature);
    if (!(p.top_p >= 0.0f && p.top_p <= 1.0f)) return range_error("top_p", "in [0, 1] (1 = off)", p.top_p);
    if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return range_error("min_p", "in [0, 1] (0 = off)", p.min_p);
    if (!(std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0.0f))
        return range_error("repeat_penalty", "a finite number > 0 (1 = off)", p.repeat_penalty);
    if (p.repeat_last_n < -1)
        return range_error("repeat_last_n", ">= -1 (-1 = whole history, 0 = no penalties)", p.repeat_last_n);
    if (!std::isfinite(p.frequency_penalty))
        return range_error("frequency_penalty", "a finite number (0 = off)", p.frequency_penalty);
    if (!std::isfinite(p.presence_penalty))
        return range_error("presence_penalty", "a finite number (0 = off)", p.presence_penalty);
    return Status();
}

Sampler::Sampler(const SamplerParams& params) : m_params(params), m_rng(params.seed) {}

void Sampler::reseed(uint64_t seed) {
    m_params.seed = seed;
    m_rng.reseed(seed);
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
    assert(!logits.empty() && "Sampler::sample: empty logits");
    if (logits.empty() || logits.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) return -1;
    if (!(m_params.temperature > 0.0f)) return greedy_token(logits);

    const auto n_vocab = static_cast<int32_t>(logits.size());
    const float* penalized = apply_penalties(logits, history);
    const int32_t k = m_params.top_k;
    if (k > 0 && k < n_vocab) select_top_k(penalized, n_vocab, k);
    else select_all(penalized, n_vocab);
    const bool sorted = k > 0 && k < n_vocab;

    if (!softmax()) {  // every logit is -inf (or NaN): fall back to the lowest id, as greedy would
        return std::min_element(m_candidates.begin(), m_candidates.end(),
                                [](const Candidate& a, const Candidate& b) { return a.id < b.id; })->id;
    }
    if (m_params.min_p > 0.0f) apply_min_p();
    if (m_params.top_p < 1.0f) apply_top_p(sorted);
    return draw();
}

// Returns the logits to sample from: the input itself when no penalty applies, else a cleaned copy with the
// penalties applied to the ids seen in the window. Counting uses a dense [n_vocab] table reset through m_touched.
const float* Sampler::apply_penalties(std::span<const float> logits, std::span<const int32_t> history) {
    const SamplerParams& p = m_params;
    const bool any = p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
    if (!any || p.repeat_last_n == 0 || history.empty()) return logits.data();

    const size_t n_vocab = logits.size();
    size_t window = history.size();
    if (p.repeat_last_n > 0) window = std::min(window, static_cast<size_t>(p.repeat_last_n));
    if (m_counts.size() < n_vocab) m_counts.assign(n_vocab, 0);
    m_touched.clear();
    for (int32_t t : history.subspan(history.size() - window)) {
        if (t < 0 || static_cast<size_t>(t) >= n_vocab) continue;
        if (m_counts[t]++ == 0) m_touched.push_back(t);
    }

    m_penalized.resize(n_vocab);
    for (size_t i = 0; i < n_vocab; ++i) m_penalized[i] = clean_logit(logits[i]);
    const bool repeat = std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0.0f && p.repeat_penalty != 1.0f;
    for (int32_t t : m_touched) {
        float v = m_penalized[t];
        if (repeat) v = v > 0.0f ? v / p.repeat_penalty : v * p.repeat_penalty;
        v -= static_cast<float>(m_counts[t]) * p.frequency_penalty + p.presence_penalty;
        m_penalized[t] = clean_logit(v);
        m_counts[t] = 0;
    }
    return m_penalized.data();
}

// Top-k by one pass with a k-element heap whose front is the worst kept candidate. Blocks of 256 logits whose
// maximum cannot beat that front are skipped after a vectorisable max, so the common case reads the vocab once.
void Sampler::select_top_k(const float* logits, int32_t n_vocab, int32_t k) {
    constexpr int32_t k_block = 128;
    m_candidates.clear();
    m_candidates.reserve(static_cast<size_t>(k));
    const Better better;
    for (int32_t b0 = 0; b0 < n_vocab; b0 += k_block) {
        const int32_t b1 = std::min(n_vocab, b0 + k_block);
        const bool full = static_cast<int32_t>(m_candidates.size()) == k;
        if (full) {
            const float block_max = clean_logit(max_ignoring_nan(logits + b0, b1 - b0));
            if (!(block_max > m_candidates.front().logit)) continue;
        }
        for (int32_t i = b0; i < b1; ++i) {
            const float v = clean_logit(logits[i]);
            if (static_cast<int32_t>(m_candidates.size()) < k) {
                m_candidates.push_back({i, v, 0.0f});
                if (static_cast<int32_t>(m_candidates.size()) == k)
                    std::make_heap(m_candidates.begin(), m_candidates.end(), better);
            } else if (v > m_candidates.front().logit) {  // strict: a later (higher) id loses a tie
                std::pop_heap(m_candidates.begin(), m_candidates.end(), better);
                m_candidates.back() = {i, v, 0.0f};
                std::push_heap(m_candidates.begin(), m_candidates.end(), better);
            }
        }
    }
    std::sort(m_candidates.begin(), m_candidates.end(), better);
}

void Sampler::select_all(const float* logits, int32_t n_vocab) {
    m_candidates.resize(static_cast<size_t>(n_vocab));
    for (int32_t i = 0; i < n_vocab; ++i) m_candidates[i] = {i, clean_logit(logits[i]), 0.0f};
}

// p_i = exp((logit_i - max) / T) / sum; subtracting the max first keeps exp finite for any temperature.
bool Sampler::softmax() {
    float max_logit = k_neg_inf;
    for (const Candidate& c : m_candidates) max_logit = std::max(max_logit, c.logit);
    if (max_logit == k_neg_inf) return false;
    m_max_logit = max_logit;
    // Divide, not multiply by 1/T: for a tiny T, 1/T is inf and 0 * inf would be NaN for the top token.
    const float temperature = m_params.temperature;
    double lanes[4] = {0.0, 0.0, 0.0, 0.0};  // independent sums: one chain of double adds is latency-bound
    for (size_t i = 0; i < m_candidates.size(); ++i) {
        Candidate& c = m_candidates[i];
        c.p = std::exp((c.logit - max_logit) / temperature);
        lanes[i & 3] += c.p;
    }
    const double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    const auto inv_sum = static_cast<float>(1.0 / sum);  // sum >= 1: the max contributes exp(0)
    for (Candidate& c : m_candidates) c.p *= inv_sum;
    return true;
}

// Keeps p >= min_p * p_max. Order is preserved; the most probable token always stays.
void Sampler::apply_min_p() {
    float p_max = 0.0f;
    for (const Candidate& c : m_candidates) p_max = std::max(p_max, c.p);
    const float threshold = m_params.min_p * p_max;
    const auto keep_end = std::remove_if(m_candidates.begin(), m_candidates.end(),
                                         [threshold](const Candidate& c) { return !(c.p >= threshold); });
    if (keep_end == m_candidates.begin()) {  // only for min_p > 1 (invalid): keep the best
        m_candidates.resize(1);
        return;
    }
    m_candidates.erase(keep_end, m_candidates.end());
}

// Keeps the smallest best-first prefix whose probability reaches top_p. Probabilities are those of the full
// softmax (not renormalised after min-p), so the result is the same as running top-p before min-p.
void Sampler::apply_top_p(bool sorted) {
    if (!sorted) {
        apply_top_p_unsorted();
        return;
    }
    double cum = 0.0;
    for (size_t i = 0; i < m_candidates.size(); ++i) {
        cum += m_candidates[i].p;
        if (cum >= m_params.top_p) {
            m_candidates.resize(i + 1);
            return;
        }
    }  // the whole set sums below top_p (rounding, or min-p removed the tail): keep it
}

// Without top-k the candidates are the whole vocab in id order, and sorting 129k of them would cost more than
// the rest of the step. Bucket them instead by distance below the best, (max - logit) / T, in 1/16 nat steps:
// buckets are in best-first order, so the nucleus is every bucket before the one where the cumulative
// probability reaches top_p, plus a sorted prefix of that boundary bucket.
void Sampler::apply_top_p_unsorted() {
    constexpr int32_t k_buckets = 1024;  // 64 nats; the last bucket takes everything further down
    constexpr float k_per_nat = 16.0f;
    const float temperature = m_params.temperature;
    const float max_logit = m_max_logit;
    const auto bucket_of = [&](const Candidate& c) {
        const float d = (max_logit - c.logit) / temperature * k_per_nat;  // +inf for -inf logits, never NaN
        return d < static_cast<float>(k_buckets - 1) ? static_cast<int32_t>(d) : k_buckets - 1;
    };
    m_bucket_mass.assign(k_buckets, 0.0);
    for (const Candidate& c : m_candidates) m_bucket_mass[static_cast<size_t>(bucket_of(c))] += c.p;
    const double top_p = m_params.top_p;
    double cum = 0.0;
    int32_t boundary = 0;
    for (; boundary < k_buckets; ++boundary) {
        if (cum + m_bucket_mass[static_cast<size_t>(boundary)] >= top_p) break;
        cum += m_bucket_mass[static_cast<size_t>(boundary)];
    }
    if (boundary == k_buckets) return;  // never reached (rounding, or min-p removed the tail): keep all

    const auto inside = std::partition(m_candidates.begin(), m_candidates.end(),
                                       [&](const Candidate& c) { return bucket_of(c) < boundary; });
    const auto edge_end = std::partition(inside, m_candidates.end(),
                                         [&](const Candidate& c) { return bucket_of(c) == boundary; });
    std::sort(inside, edge_end, Better());
    auto keep_end = inside;
    while (keep_end != edge_end) {
        cum += (keep_end++)->p;
        if (cum >= top_p) break;
    }
    m_candidates.erase(keep_end, m_candidates.end());
}

int32_t Sampler::draw() {
    double lanes[4] = {0.0, 0.0, 0.0, 0.0};
    for (size_t i = 0; i < m_candidates.size(); ++i) lanes[i & 3] += m_candidates[i].p;
    const double total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    const double target = m_rng.uniform() * total;
    double cum = 0.0;
    int32_t last_positive = m_candidates.front().id;
    for (const Candidate& c : m_candidates) {
        if (c.p <= 0.0f) continue;
        cum += c.p;
        last_positive = c.id;
        if (cum > target) return c.id;
    }
    return last_positive;  // rounding left target at the very end
}

}  // namespace moe
