// The per-token routing of one reply as a compact blob, kept with the message in SQLite (table
// message_routing) so the token strip and the heatmap of an old reply work after a restart.
//
// Layout (little-endian):
//   "MWRT" u8 version(1)  i32 nExpert  i32 k  i32 nShared  i32 layerCount  i32 rows
//   i32 moeLayers[layerCount]  i32 tokens[rows]  i32 positions[rows]
//   per row: u16 byte length + UTF-8 token text
//   u16 experts[rows][layerCount][k]  (expert ids < 65536: every DeepSeek model has at most 256)
//   f16 weights[rows][layerCount][k]  (gate weights in (0, ~3]: half precision keeps 3 significant digits)
// About 4 bytes per selection: DeepSeek-V3 (58 MoE layers, top-8) needs ~1.9 KB per token.
#pragma once

#include "services/routing_snapshot.h"

#include <QByteArray>

#include <optional>

namespace moe::app {

// An empty snapshot encodes to an empty array.
QByteArray encodeRouting(const RoutingSnapshot& snapshot);
// nullopt when the blob is not one encodeRouting wrote (wrong magic or version, truncated, inconsistent
// sizes). The ids of the result are 0 (a blob does not know its message): the caller sets them.
std::optional<RoutingSnapshot> decodeRouting(const QByteArray& blob);

}  // namespace moe::app
