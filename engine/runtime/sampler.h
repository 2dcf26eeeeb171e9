// Token sampling from logits, and stop strings over the decoded text stream.
//
// The sampling chain (one call to Sampler::sample), in this order:
//   1. penalties   over the last repeat_last_n tokens of the history (-1: all of it, 0: no penalties at all;
//                  the window is shared by the three penalties, as in llama.cpp):
//                  repeat:    logit > 0 ? logit / repeat_penalty : logit * repeat_penalty
//                  frequency: logit -= count * frequency_penalty
//                  presence:  logit -= (count > 0) * presence_penalty
//   2. top-k       keep the k highest logits (ties: lowest id first)
//   3. temperature logit / temperature
//   4. softmax     over what top-k kept
//   5. top-p       keep the smallest prefix (highest probability first) whose probability sum >= top_p
//   6. min-p       keep tokens with p >= min_p * p_max
//   7. draw        one token with probability proportional to p among those kept
// temperature <= 0 is greedy: the argmax of the raw logits (ties: lowest id), every other option ignored.
// Differences from llama.cpp's default chain: llama.cpp applies temperature after top-p and min-p (on
// probabilities computed at temperature 1); here temperature comes before, so the nucleus is that of the
// distribution actually drawn from. Steps 5 and 6 keep two prefixes of the same order, so their result is the
// shorter prefix whichever runs first; the code runs min-p first because it is cheaper.
// Non-finite logits: NaN counts as -inf (never drawn unless every logit is -inf/NaN, in which case the lowest
// id is returned), +inf as the largest finite float.
#pragma once

#include "core/status.h"
#include "runtime/rng.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

struct SamplerParams {
    float temperature = 0.8f;        // <= 0: greedy (argmax, ties to the lowest id), all other options ignored
    int32_t top_k = 40;              // <= 0 or >= n_vocab: off
    float top_p = 0.95f;             // >= 1: off
    float min_p = 0.05f;             // <= 0: off (keep tokens with p >= min_p * p_max)
    float repeat_penalty = 1.0f;     // logit > 0 ? logit / p : logit * p, over the last repeat_last_n tokens
    int32_t repeat_last_n = 64;      // window of all penalties: 0 off, -1 the whole history
    float frequency_penalty = 0.0f;  // logit -= count * frequency_penalty
    float presence_penalty = 0.0f;   // logit -= (count > 0) * presence_penalty
    uint64_t seed = 0;
};

// The greedy choice: the id of the largest logit (ties: lowest id; NaN never wins unless all are NaN, +inf counts
// as the largest float), -1 for no logits. Vectorised: about 10 us for a 100k vocabulary.
int32_t greedy_token(std::span<const float> logits);

// Checks every field; the message names the field, the allowed range and the value given, e.g.
// "top_p: must be in [0, 1] (1 = off), got 1.5".
Status validate_sampler_params(const SamplerParams& p);

class Sampler {
public:
    // params should pass validate_sampler_params; out-of-range values do not crash (NaN options count as off).
    explicit Sampler(const SamplerParams& params);

    // The next token from logits [n_vocab] (not modified), given the tokens so far (prompt + generated) for
    // the penalties; history ids outside [0, n_vocab) are ignored. Same seed + same calls -> same tokens.
    // Returns an id in [0, n_vocab); logits must not be empty (returns -1 if it is, a programmer error).
    // Allocates only when n_vocab or top_k grows past what earlier calls saw.
    int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

    void reseed(uint64_t seed);
    const SamplerParams& params() const { return m_params; }

private:
    struct Candidate {
        int32_t id = 0;
        float logit = 0.0f;  // after penalties
        float p = 0.0f;      // after temperature and softmax over the candidates
    };

    const float* apply_penalties(std::span<const float> logits, std::span<const int32_t> history);
    void select_top_k(const float* logits, int32_t n_vocab, int32_t k);
    void select_all(const float* logits, int32_t n_vocab);
    bool softmax();  // false when every candidate is -inf
    void apply_min_p();
    void apply_top_p(bool sorted);
    void apply_top_p_unsorted();
    int32_t draw();

    SamplerParams m_params;
    Rng m_rng;
    std::vector<float> m_penalized;      // [n_vocab] logits after penalties (only when some penalty applies)
    std::vector<int32_t> m_counts;       // [n_vocab] occurrences in the penalty window, zero between calls
    std::vector<int32_t> m_touched;      // ids whose m_counts entry is non-zero
    std::vector<Candidate> m_candidates; // what survives each step
    std::vector<double> m_bucket_mass;   // top-p without top-k: probability per distance bucket
    float m_max_logit = 0.0f;            // of the candidates, set by softmax()
};

// Streams decoded text through a set of stop strings. Text that might be the start of a stop string is held
// back, and so is an incomplete UTF-8 sequence at the end (a token can end inside a character), so what
// push() returns is always safe to show. Empty stop strings are ignored.
class StopStringMatcher {
public:
    explicit StopStringMatcher(std::vector<std::string> stops);

    struct Output {
        std::string text;      // safe to show now
        bool stopped = false;  // a stop string completed: text is what preceded it; it and what follows are dropped
    };
    // Once stopped, every later push returns {"", true}.
    Output push(std::string_view text);
    // At the end of generation: what was held back ("" after a stop). The matcher is then empty again.
    std::string flush();
    // Forget held text and the stopped state (a new generation with the same stops).
    void reset();

    bool stopped() const { return m_stopped; }
    const std::vector<std::string>& stops() const { return m_stops; }

private:
    size_t held_back_length() const;  // bytes at the end of m_pending that must wait for more text

    std::vector<std::string> m_stops;
    std::string m_pending;  // text received and not yet returned
    bool m_stopped = false;
};

}  // namespace moe
