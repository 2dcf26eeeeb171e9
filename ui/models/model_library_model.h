// The model library as a table: one row per Store `models` row (plus rows being added), with what
// describing the file found. Rows are keyed by path; describing happens elsewhere (ModelsPage) and arrives
// through setDescribed()/setFailed().
#pragma once

#include "services/model_info.h"
#include "storage/store_types.h"

#include <QAbstractTableModel>
#include <QList>

namespace moe::ui {

struct LibraryEntry {
    enum class State { Describing, Ready, Failed };
    app::ModelRecord record;  // id 0 until the Store wrote it
    State state = State::Describing;
    QString error;        // Failed: why (names the file)
    app::ModelInfo info;  // Ready: the description (memory plans)
    bool loaded = false;
};

class ModelLibraryModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column { Name, Architecture, Parameters, Experts, Quantization, Context, Size, ColumnCount };
    enum Role { PathRole = Qt::UserRole + 1, IdRole, StateRole };

    explicit ModelLibraryModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    void setEntries(const QList<LibraryEntry>& entries);
    int addEntry(const LibraryEntry& entry);  // returns its row
    void removeRow(int row);
    int rowOfPath(const QString& path) const;  // -1 when absent
    int rowOfId(qint64 id) const;
    const LibraryEntry& entry(int row) const { return m_entries.at(row); }
    const QList<LibraryEntry>& entries() const { return m_entries; }

    void setDescribed(const QString& path, const app::ModelInfo& info);  // keeps id, demo flag, dates
    void setFailed(const QString& path, const QString& error);
    void setId(const QString& path, qint64 id);
    void setLoadedPath(const QString& path);  // "" when nothing is loaded

private:
    QVariant displayData(const LibraryEntry& e, int column) const;
    void emitRowChanged(int row);

    QList<LibraryEntry> m_entries;
};

}  // namespace moe::ui
