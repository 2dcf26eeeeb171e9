#include "models/model_library_model.h"

#include "services/memory_fit.h"
#include "theme/icons.h"
#include "theme/theme.h"

#include <QFileInfo>
#include <QFont>

namespace moe::ui {

ModelLibraryModel::ModelLibraryModel(QObject* parent) : QAbstractTableModel(parent) {}

int ModelLibraryModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_entries.size());
}

int ModelLibraryModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ModelLibraryModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
        case Name:
            return tr("Name");
        case Architecture:
            return tr("Arch");
        case Parameters:
            return tr("Params");
        case Experts:
            return tr("Experts");
        case Quantization:
            return tr("Quantization");
        case Context:
            return tr("Context");
        case Size:
            return tr("Size");
        default:
            return {};
    }
}

QVariant ModelLibraryModel::displayData(const LibraryEntry& e, int column) const {
    const app::ModelRecord& r = e.record;
    const bool ready = e.state == LibraryEntry::State::Ready;
    switch (column) {
        case Name:
            return r.name.isEmpty() ? QFileInfo(r.path).fileName() : r.name;
        case Architecture:
            if (e.state == LibraryEntry::State::Describing) return tr("describing…");
            if (e.state == LibraryEntry::State::Failed) return tr("unreadable");
            return r.architecture;
        case Parameters:
            if (!ready || !r.paramsTotal) return QString();
            return app::formatCount(*r.paramsTotal);  // active per token: tooltip and details panel
        case Experts:
            if (!ready || !r.nExpert || *r.nExpert == 0) return ready ? tr("dense") : QString();
            return tr("%1+%2, top-%3").arg(*r.nExpert).arg(r.nExpertShared.value_or(0)).arg(r.nExpertUsed.value_or(0));
        case Quantization:
            return ready ? r.quantization.section(QLatin1Char(' '), 0, 0) : QString();  // the main type
        case Context:
            return ready && r.contextLength ? app::formatCount(*r.contextLength) : QString();
        case Size:
            return r.fileBytes ? app::formatBytes(*r.fileBytes) : QString();
        default:
            return {};
    }
}

QVariant ModelLibraryModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_entries.size()) return {};
    const LibraryEntry& e = m_entries.at(index.row());
    switch (role) {
        case Qt::DisplayRole:
            return displayData(e, index.column());
        case Qt::ToolTipRole:
            if (e.state == LibraryEntry::State::Failed) return e.error;
            if (index.column() == Quantization) return e.record.quantization;  // every type with its tensor count
            if (index.column() == Parameters)
                return tr("%1 total, %2 active per token")
                    .arg(app::formatCount(e.record.paramsTotal.value_or(0)),
                         app::formatCount(e.record.paramsActive.value_or(0)));
            if (index.column() == Experts) return tr("routed + shared experts, routed experts per token");
            return e.record.path;
        case Qt::DecorationRole:
            if (index.column() != Name) return {};
            if (e.state == LibraryEntry::State::Failed) return Icons::icon(IconKind::Warning, Theme::colors().error);
            if (e.loaded) return Icons::icon(IconKind::Check, Theme::colors().success);
            return Icons::icon(IconKind::Models, Theme::colors().mutedText);
        case Qt::ForegroundRole:
            if (e.state != LibraryEntry::State::Ready && index.column() != Name) return Theme::colors().mutedText;
            return {};
        case Qt::FontRole:
            if (index.column() == Name && e.loaded) {
                QFont f;
                f.setWeight(QFont::DemiBold);
                return f;
            }
            return {};
        case Qt::TextAlignmentRole:
            if (index.column() == Size || index.column() == Context)
                return QVariant(static_cast<int>(Qt::AlignRight | Qt::AlignVCenter));
            return {};
        case PathRole:
            return e.record.path;
        case IdRole:
            return e.record.id;
        case StateRole:
            return static_cast<int>(e.state);
        default:
            return {};
    }
}

void ModelLibraryModel::setEntries(const QList<LibraryEntry>& entries) {
    beginResetModel();
    m_entries = entries;
    endResetModel();
}

int ModelLibraryModel::addEntry(const LibraryEntry& entry) {
    const int row = static_cast<int>(m_entries.size());
    beginInsertRows({}, row, row);
    m_entries.append(entry);
    endInsertRows();
    return row;
}

void ModelLibraryModel::removeRow(int row) {
    if (row < 0 || row >= m_entries.size()) return;
    beginRemoveRows({}, row, row);
    m_entries.removeAt(row);
    endRemoveRows();
}

int ModelLibraryModel::rowOfPath(const QString& path) const {
    for (int i = 0; i < m_entries.size(); ++i)
        if (m_entries[i].record.path == path) return i;
    return -1;
}

int ModelLibraryModel::rowOfId(qint64 id) const {
    for (int i = 0; i < m_entries.size(); ++i)
        if (m_entries[i].record.id == id) return i;
    return -1;
}

void ModelLibraryModel::emitRowChanged(int row) {
    emit dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

void ModelLibraryModel::setDescribed(const QString& path, const app::ModelInfo& info) {
    const int row = rowOfPath(path);
    if (row < 0) return;
    LibraryEntry& e = m_entries[row];
    app::ModelRecord r = info.record;
    r.id = e.record.id;
    r.isDemo = e.record.isDemo;
    if (r.isDemo) r.name = e.record.name;  // the bundled file's name says what it is; its metadata does not
    r.notes = e.record.notes;
    r.addedAtMs = e.record.addedAtMs;
    r.lastLoadedAtMs = e.record.lastLoadedAtMs;
    e.record = r;
    e.info = info;
    e.state = LibraryEntry::State::Ready;
    e.error.clear();
    emitRowChanged(row);
}

void ModelLibraryModel::setFailed(const QString& path, const QString& error) {
    const int row = rowOfPath(path);
    if (row < 0) return;
    m_entries[row].state = LibraryEntry::State::Failed;
    m_entries[row].error = error;
    emitRowChanged(row);
}

void ModelLibraryModel::setId(const QString& path, qint64 id) {
    const int row = rowOfPath(path);
    if (row >= 0) m_entries[row].record.id = id;
}

void ModelLibraryModel::setLoadedPath(const QString& path) {
    for (int i = 0; i < m_entries.size(); ++i) {
        const bool loaded = !path.isEmpty() && m_entries[i].record.path == path;
        if (m_entries[i].loaded == loaded) continue;
        m_entries[i].loaded = loaded;
        emitRowChanged(i);
    }
}

}  // namespace moe::ui
