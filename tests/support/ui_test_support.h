// Shared by the UI tests: the UI event loop's longest stall while something runs, and the fixture model the
// whole-application tests load, written by the `moewb make-fixture` program (MOE_MOEWB_PATH).
#pragma once

#include <QElapsedTimer>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <algorithm>

namespace moe::test {

// A timer firing every intervalMs on the UI thread records the longest gap between two of its calls: the
// longest time the event loop could not run (the DESIGN's limit is 50 ms while generating or training).
class StallProbe {
public:
    explicit StallProbe(int intervalMs = 2) {
        m_timer.setInterval(intervalMs);
        QObject::connect(&m_timer, &QTimer::timeout, [this] {
            const qint64 now = m_clock.elapsed();
            m_maxGapMs = std::max(m_maxGapMs, now - m_last);
            m_last = now;
        });
    }
    void start() {
        m_maxGapMs = m_last = 0;
        m_clock.start();
        m_timer.start();
    }
    void stop() { m_timer.stop(); }
    qint64 maxGapMs() const { return m_maxGapMs; }
    qint64 elapsedMs() const { return m_clock.elapsed(); }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = 0;
    qint64 m_maxGapMs = 0;
};

// A deepseek2 fixture written by `moewb make-fixture` (tiny preset, grown to 21 M parameters: ~1 ms a token
// on one core, so a reply streams for a second or two; a vocabulary of 8192 makes an early end of turn rare,
// the preset's 512 gives short byte-level tokens). Returns moewb's error output, empty on success.
inline QString writeWorkbenchFixture(const QString& moewbPath, const QString& out, int seed = 3, int vocab = 8192) {
    QStringList args = QStringLiteral(
                           "make-fixture --arch deepseek2 --preset tiny --type f32 --format gguf --seed %1 "
                           "--layers 6 --embd 256 --ff-exp 128 --experts 32 --experts-used 4 --vocab %2 "
                           "--quiet")
                           .arg(seed)
                           .arg(vocab)
                           .split(QLatin1Char(' '));
    args << out;
    QProcess moewb;
    moewb.start(moewbPath, args);
    if (!moewb.waitForFinished(60000))
        return QStringLiteral("moewb make-fixture did not finish: ") + moewb.errorString();
    if (moewb.exitStatus() != QProcess::NormalExit || moewb.exitCode() != 0)
        return QString::fromLocal8Bit(moewb.readAllStandardError());
    return {};
}

}  // namespace moe::test
