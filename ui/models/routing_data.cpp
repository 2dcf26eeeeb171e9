// Engine headers first: tokenizer/bpe.h has a method named emit, which Qt's keyword macro would break.
#include "core/utf8.h"
#include "runtime/routing_trace.h"
#include "tokenizer/tokenizer.h"

#include "models/routing_data.h"

#include <algorithm>
#include <cassert>

namespace moe::app {

RoutingData::RoutingData(int32_t nExpert, int32_t k, std::vector<int32_t> moeLayers, int32_t nShared)
    : m_nExpert(nExpert), m_k(k), m_nShared(nShared), m_moeLayers(std::move(moeLayers)) {}

RoutingData RoutingData::fromTrace(const RoutingTrace& trace, const Tokenizer* tokenizer, int32_t nShared,
                                   int64_t begin, int64_t end, const QString& label) {
    RoutingData data(trace.n_expert(), trace.k(), trace.moe_layers(), nShared);
    begin = std::clamp<int64_t>(begin, 0, trace.n_rows());
    end = std::clamp<int64_t>(end, begin, trace.n_rows());
    data.beginSegment(label);
    const size_t perRow = static_cast<size_t>(trace.n_slots()) * static_cast<size_t>(trace.k());
    std::vector<int32_t> ids(perRow);
    std::vector<float> weights(perRow);
    for (int64_t row = begin; row < end; ++row) {
        for (int32_t slot = 0; slot < trace.n_slots(); ++slot) {
            const auto e = trace.experts(row, slot);
            const auto w = trace.weights(row, slot);
            std::copy(e.begin(), e.end(), ids.begin() + slot * trace.k());
            std::copy(w.begin(), w.end(), weights.begin() + slot * trace.k());
        }
        const int32_t id = trace.token(row);
        const QString text = tokenizer
                                 ? QString::fromStdString(moe::utf8_escape_invalid(tokenizer->token_to_piece(id, true)))
                                 : QStringLiteral("#%1").arg(id);
        data.appendRow(id, text, ids, weights);
    }
    return data;
}

bool RoutingData::compatibleWith(const RoutingData& other) const {
    return m_nExpert == other.m_nExpert && m_k == other.m_k && m_moeLayers == other.m_moeLayers &&
           m_nShared == other.m_nShared;
}

void RoutingData::appendRow(int32_t token, const QString& text, std::span<const int32_t> experts,
                            std::span<const float> weights) {
    const size_t perRow = m_moeLayers.size() * static_cast<size_t>(m_k);
    assert(experts.size() == perRow && weights.size() == perRow);
    if (m_segments.empty()) beginSegment(QString());
    m_tokens.push_back(token);
    m_texts.append(text);
    m_experts.insert(m_experts.end(), experts.begin(), experts.begin() + static_cast<std::ptrdiff_t>(perRow));
    m_weights.insert(m_weights.end(), weights.begin(), weights.begin() + static_cast<std::ptrdiff_t>(perRow));
    m_segments.back().end = nRows();
}

bool RoutingData::append(const RoutingData& other) {
    if (isEmpty() && m_segments.empty() && m_nExpert == 0) {
        *this = other;
        return true;
    }
    if (!compatibleWith(other)) return false;
    const int64_t base = nRows();
    // An open segment with no rows yet (beginSegment before the first row) gives way to other's labels.
    if (!m_segments.empty() && m_segments.back().begin == m_segments.back().end) m_segments.pop_back();
    m_tokens.insert(m_tokens.end(), other.m_tokens.begin(), other.m_tokens.end());
    m_texts.append(other.m_texts);
    m_experts.insert(m_experts.end(), other.m_experts.begin(), other.m_experts.end());
    m_weights.insert(m_weights.end(), other.m_weights.begin(), other.m_weights.end());
    for (RoutingSegment s : other.m_segments) {
        s.begin += base;
        s.end += base;
        m_segments.push_back(s);
    }
    return true;
}

void RoutingData::beginSegment(const QString& label) {
    if (!m_segments.empty() && m_segments.back().begin == nRows()) {
        m_segments.back().label = label;  // an empty segment is renamed rather than kept
        return;
    }
    m_segments.push_back({label, nRows(), nRows()});
}

void RoutingData::clear() {
    m_tokens.clear();
    m_texts.clear();
    m_experts.clear();
    m_weights.clear();
    m_segments.clear();
}

std::span<const int32_t> RoutingData::experts(int64_t row, int32_t slot) const {
    return {m_experts.data() + offset(row, slot), static_cast<size_t>(m_k)};
}

std::span<const float> RoutingData::weights(int64_t row, int32_t slot) const {
    return {m_weights.data() + offset(row, slot), static_cast<size_t>(m_k)};
}

}  // namespace moe::app
