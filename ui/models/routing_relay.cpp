#include "models/routing_relay.h"

#include <span>
#include <vector>

namespace moe::app {

RoutingData routingDataFromSnapshot(const RoutingSnapshot& s, int fromRow, const QString& label) {
    std::vector<int32_t> layers(s.moeLayers.begin(), s.moeLayers.end());
    RoutingData data(s.nExpert, s.k, std::move(layers), s.nShared);
    if (!label.isEmpty()) data.beginSegment(label);
    const size_t per_row = static_cast<size_t>(s.layerCount()) * static_cast<size_t>(s.k);
    for (int row = std::max(0, fromRow); row < s.rows(); ++row) {
        const size_t at = static_cast<size_t>(row) * per_row;
        std::vector<int32_t> experts(s.experts.begin() + at, s.experts.begin() + at + per_row);
        std::vector<float> weights(s.weights.begin() + at, s.weights.begin() + at + per_row);
        data.appendRow(s.tokens[row], row < s.tokenTexts.size() ? s.tokenTexts[row] : QString(), experts, weights);
    }
    return data;
}

void RoutingRelay::onSnapshot(const RoutingSnapshot& snapshot) {
    if (snapshot.messageId != m_messageId) {
        if (m_messageId >= 0) emit liveReplyFinished();
        m_messageId = snapshot.messageId;
        m_sentRows = 0;
        ++m_replies;
        const QString label = m_label ? m_label(snapshot.messageId) : QString();
        emit liveReplyStarted(label.isEmpty() ? tr("Reply %1").arg(m_replies) : label);
    }
    if (snapshot.rows() > m_sentRows) {
        emit liveRows(routingDataFromSnapshot(snapshot, m_sentRows));
        m_sentRows = snapshot.rows();
    }
    if (snapshot.final) {
        emit liveReplyFinished();
        m_messageId = -1;
        m_sentRows = 0;
    }
}

}  // namespace moe::app
