// The routing of a run of tokens, copied out of the engine so the UI thread owns it: for every token (row)
// and every MoE layer (slot), the k chosen experts and their gate weights. Built from a moe::RoutingTrace
// (on the thread that owns the Session) and handed to the UI by value; several replies append into one
// conversation, each keeping a labelled segment so a page can select "reply 2" or the whole conversation.
#pragma once

#include <QMetaType>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <span>
#include <vector>

namespace moe {
class RoutingTrace;
class Tokenizer;
}  // namespace moe

namespace moe::app {

// A labelled run of rows [begin, end) (a reply, a prompt, a live reply still streaming).
struct RoutingSegment {
    QString label;
    int64_t begin = 0;
    int64_t end = 0;
};

class RoutingData {
public:
    RoutingData() = default;
    // An empty run for a model: n_expert routed experts, k per token, moeLayers the model layer index of each
    // MoE layer (ascending), nShared always-on shared experts per MoE layer.
    RoutingData(int32_t nExpert, int32_t k, std::vector<int32_t> moeLayers, int32_t nShared);
    // Rows [begin, end) of `trace` (clamped), token texts from `tokenizer` (nullptr: "#id"), as one segment
    // called `label`.
    static RoutingData fromTrace(const RoutingTrace& trace, const Tokenizer* tokenizer, int32_t nShared,
                                 int64_t begin, int64_t end, const QString& label = QString());

    bool isEmpty() const { return m_tokens.empty(); }
    // Same model shape (experts, k, layers): only then can two runs be appended or compared.
    bool compatibleWith(const RoutingData& other) const;

    // Appends one row: experts and weights are [slot][k] flattened (n_slots * k each).
    void appendRow(int32_t token, const QString& text, std::span<const int32_t> experts,
                   std::span<const float> weights);
    // Appends every row of `other` (same shape, else returns false and changes nothing) with its segments.
    bool append(const RoutingData& other);
    // Starts a segment at the current end; rows appended later extend the last segment.
    void beginSegment(const QString& label);
    void clear();  // rows and segments; the shape stays

    int32_t nExpert() const { return m_nExpert; }
    int32_t k() const { return m_k; }
    int32_t nShared() const { return m_nShared; }
    int32_t nSlots() const { return static_cast<int32_t>(m_moeLayers.size()); }
    const std::vector<int32_t>& moeLayers() const { return m_moeLayers; }
    int64_t nRows() const { return static_cast<int64_t>(m_tokens.size()); }
    const std::vector<RoutingSegment>& segments() const { return m_segments; }

    int32_t token(int64_t row) const { return m_tokens[static_cast<size_t>(row)]; }
    const QString& tokenText(int64_t row) const { return m_texts[static_cast<int>(row)]; }
    std::span<const int32_t> experts(int64_t row, int32_t slot) const;  // k ids
    std::span<const float> weights(int64_t row, int32_t slot) const;    // k weights

private:
    size_t offset(int64_t row, int32_t slot) const {
        return (static_cast<size_t>(row) * m_moeLayers.size() + static_cast<size_t>(slot)) * size_t(m_k);
    }

    int32_t m_nExpert = 0;
    int32_t m_k = 0;
    int32_t m_nShared = 0;
    std::vector<int32_t> m_moeLayers;
    std::vector<int32_t> m_tokens;   // [rows]
    QStringList m_texts;             // [rows]
    std::vector<int32_t> m_experts;  // [rows][slots][k]
    std::vector<float> m_weights;    // [rows][slots][k]
    std::vector<RoutingSegment> m_segments;
};

}  // namespace moe::app

// Travels by value in queued signals (worker thread -> UI).
Q_DECLARE_METATYPE(moe::app::RoutingData)
