// RoutingSnapshot: the expert routing of one assistant reply, as a plain copyable value the ChatService emits
// (queued, across threads) for the routing views. It holds only the reply's rows of the session's
// RoutingTrace (one row per generated token, in order), never the prompt's.
//
// Layout (all arrays flat, row-major):
//   rows()   = tokens.size()               number of reply tokens recorded so far
//   layerCount() = moeLayers.size()            MoE layers; slot s is model layer moeLayers[s]
//   experts  [rows][layerCount][k]              expert ids chosen for token `row` at MoE layer `slot`, in
//                                          descending order of selection score
//   weights  [rows][layerCount][k]              their final gate weights (after normalisation and scaling)
//   expert(row, slot, j) / weight(row, slot, j) index these arrays.
// Shared experts (nShared of them) run for every token at every MoE layer; they are not in `experts`: a view
// shows them apart (each shared expert's count at a layer is rows()).
// Totals: every complete row holds exactly k selections per slot, so the counts of one layer sum to
// rows() * k.
//
// While a reply streams the service emits cumulative snapshots (all rows so far, `final == false`) a few
// times a second; when it ends it emits one with `final == true` holding every reply token (the last
// sampled token included: the service evaluates it once more so that its routing is known).
#pragma once

#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QtGlobal>

namespace moe::app {

struct RoutingSnapshot {
    qint64 conversationId = 0;
    qint64 messageId = 0;    // the assistant message the rows belong to
    bool final = false;      // false: a partial snapshot of a reply still streaming
    int nExpert = 0;         // routed experts per MoE layer
    int k = 0;               // experts chosen per token per layer (top-k)
    int nShared = 0;         // shared experts per MoE layer (always active, not in `experts`)
    QList<int> moeLayers;    // [slots] model layer index of each MoE layer, ascending
    QList<int> tokens;       // [rows] token ids
    QList<int> positions;    // [rows] positions in the session's context (prompt tokens come before)
    QStringList
        tokenTexts;  // [rows] each token's text (stray bytes of a piece that ends inside a UTF-8 character as <0xNN>)
    QList<int> experts;      // [rows][layerCount][k]
    QList<float> weights;    // [rows][layerCount][k]

    int rows() const { return static_cast<int>(tokens.size()); }
    int layerCount() const { return static_cast<int>(moeLayers.size()); }
    bool isEmpty() const { return tokens.isEmpty(); }
    qsizetype index(int row, int slot, int j) const {
        return (static_cast<qsizetype>(row) * layerCount() + slot) * k + j;
    }
    int expert(int row, int slot, int j) const { return experts[index(row, slot, j)]; }
    float weight(int row, int slot, int j) const { return weights[index(row, slot, j)]; }
};

}  // namespace moe::app

Q_DECLARE_METATYPE(moe::app::RoutingSnapshot)
