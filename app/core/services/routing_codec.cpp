#include "services/routing_codec.h"

#include <QFloat16>
#include <QtEndian>

#include <bit>
#include <cstring>
#include <limits>

namespace moe::app {

namespace {

constexpr char kMagic[4] = {'M', 'W', 'R', 'T'};
constexpr quint8 kVersion = 1;
constexpr qsizetype kHeaderBytes = 4 + 1 + 5 * 4;

class BlobWriter {
public:
    explicit BlobWriter(QByteArray& out) : m_out(out) {}
    template <class T>
    void put(T value) {
        char bytes[sizeof(T)];
        qToLittleEndian(value, bytes);
        m_out.append(bytes, sizeof(T));
    }

private:
    QByteArray& m_out;
};

class BlobReader {
public:
    explicit BlobReader(const QByteArray& in) : m_in(in) {}
    template <class T>
    bool get(T& value) {
        if (m_in.size() - m_at < static_cast<qsizetype>(sizeof(T))) return false;
        value = qFromLittleEndian<T>(m_in.constData() + m_at);
        m_at += sizeof(T);
        return true;
    }
    bool bytes(qsizetype n, QByteArray& out) {
        if (n < 0 || m_in.size() - m_at < n) return false;
        out = m_in.mid(m_at, n);
        m_at += n;
        return true;
    }
    qsizetype left() const { return m_in.size() - m_at; }

private:
    const QByteArray& m_in;
    qsizetype m_at = 0;
};

quint16 halfBits(float value) {
    return std::bit_cast<quint16>(qfloat16(value));
}

float fromHalfBits(quint16 bits) {
    return static_cast<float>(std::bit_cast<qfloat16>(bits));
}

}  // namespace

QByteArray encodeRouting(const RoutingSnapshot& s) {
    if (s.isEmpty()) return {};
    const qsizetype selections = s.experts.size();
    QByteArray out;
    out.reserve(kHeaderBytes + 4 * s.layerCount() + 12 * s.rows() + 4 * selections);  // texts: ~4 bytes a row
    out.append(kMagic, sizeof(kMagic));
    BlobWriter w(out);
    w.put<quint8>(kVersion);
    for (qint32 v : {s.nExpert, s.k, s.nShared, s.layerCount(), s.rows()}) w.put<qint32>(v);
    for (int layer : s.moeLayers) w.put<qint32>(layer);
    for (int token : s.tokens) w.put<qint32>(token);
    for (int row = 0; row < s.rows(); ++row) w.put<qint32>(row < s.positions.size() ? s.positions[row] : 0);
    for (int row = 0; row < s.rows(); ++row) {
        QByteArray text = row < s.tokenTexts.size() ? s.tokenTexts[row].toUtf8() : QByteArray();
        text.truncate(std::numeric_limits<quint16>::max());
        w.put<quint16>(static_cast<quint16>(text.size()));
        out.append(text);
    }
    for (int id : s.experts) w.put<quint16>(static_cast<quint16>(id));
    for (float weight : s.weights) w.put<quint16>(halfBits(weight));
    return out;
}

std::optional<RoutingSnapshot> decodeRouting(const QByteArray& blob) {
    if (blob.size() < kHeaderBytes || std::memcmp(blob.constData(), kMagic, sizeof(kMagic)) != 0) return std::nullopt;
    BlobReader r(blob);
    QByteArray skip;
    quint8 version = 0;
    qint32 nExpert = 0, k = 0, nShared = 0, layers = 0, rows = 0;
    if (!r.bytes(sizeof(kMagic), skip) || !r.get(version) || version != kVersion) return std::nullopt;
    if (!r.get(nExpert) || !r.get(k) || !r.get(nShared) || !r.get(layers) || !r.get(rows)) return std::nullopt;
    if (nExpert < 1 || nExpert > 65536 || k < 1 || k > nExpert || nShared < 0 || layers < 0 || rows < 0)
        return std::nullopt;
    // Every row needs at least its token, position and text length; every selection 4 bytes.
    const qint64 selections = qint64(rows) * layers * k;
    if (qint64(layers) * 4 + qint64(rows) * 10 + selections * 4 > r.left()) return std::nullopt;

    RoutingSnapshot s;
    s.nExpert = nExpert;
    s.k = k;
    s.nShared = nShared;
    s.final = true;
    qint32 v = 0;
    for (qint32 i = 0; i < layers; ++i) {
        if (!r.get(v)) return std::nullopt;
        s.moeLayers.append(v);
    }
    for (QList<int>* list : {&s.tokens, &s.positions}) {
        list->reserve(rows);
        for (qint32 i = 0; i < rows; ++i) {
            if (!r.get(v)) return std::nullopt;
            list->append(v);
        }
    }
    s.tokenTexts.reserve(rows);
    for (qint32 i = 0; i < rows; ++i) {
        quint16 length = 0;
        QByteArray text;
        if (!r.get(length) || !r.bytes(length, text)) return std::nullopt;
        s.tokenTexts.append(QString::fromUtf8(text));
    }
    if (r.left() != selections * 4) return std::nullopt;
    s.experts.reserve(selections);
    s.weights.reserve(selections);
    quint16 bits = 0;
    for (qint64 i = 0; i < selections; ++i) {
        r.get(bits);
        if (bits >= nExpert) return std::nullopt;
        s.experts.append(bits);
    }
    for (qint64 i = 0; i < selections; ++i) {
        r.get(bits);
        s.weights.append(fromHalfBits(bits));
    }
    return s;
}

}  // namespace moe::app
