// Turns the chat service's cumulative RoutingSnapshots (every ~200 ms while a reply streams, then a final one)
// into the routing views' live calls: a new reply begins a live segment, only the rows not sent yet are appended,
// the final snapshot finishes it. Lives on the UI thread.
#pragma once

#include "models/routing_data.h"
#include "services/routing_snapshot.h"

#include <QObject>
#include <QString>

#include <functional>

namespace moe::app {

// Rows [fromRow, rows()) of a snapshot as RoutingData: one segment called `label` (none when empty).
RoutingData routingDataFromSnapshot(const RoutingSnapshot& snapshot, int fromRow = 0, const QString& label = {});

// The routing of a branch's replies, one labelled segment each, and the segment to show first (-1: none).
struct BranchRouting {
    RoutingData data;
    int focusSegment = -1;
};

class RoutingRelay : public QObject {
    Q_OBJECT
public:
    explicit RoutingRelay(QObject* parent = nullptr) : QObject(parent) {}
    // Names a reply's live segment (the chat's "Reply 2"); unset or empty: "Reply N", N counting the replies seen.
    void setLabelProvider(std::function<QString(qint64 messageId)> provider) { m_label = std::move(provider); }
    qint64 liveMessageId() const { return m_messageId; }  // the reply streaming now (-1: none)

public slots:
    void onSnapshot(const moe::app::RoutingSnapshot& snapshot);

signals:
    void liveReplyStarted(const QString& label);
    void liveRows(const moe::app::RoutingData& rows);
    void liveReplyFinished();

private:
    qint64 m_messageId = -1;
    int m_sentRows = 0;
    int m_replies = 0;
    std::function<QString(qint64)> m_label;
};

}  // namespace moe::app
