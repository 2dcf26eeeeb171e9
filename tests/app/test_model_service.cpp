// ModelService on its own thread: load with progress to the end, summary and current model, unload, cancel
// (before the load starts and in the middle of it), a corrupt file's error naming it; describing a model
// file without loading it (and its memory plan); the memory-fit rule.
// Engine headers first: Qt's `emit` macro would break the tokenizer's emit() method.
#include "model/fixture_writer.h"
#include "model/model.h"

#include "services/memory_fit.h"
#include "services/model_info.h"
#include "services/model_service.h"
#include "services/worker_thread.h"

#include <QFile>
#include <QFileInfo>
#include <QSemaphore>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace moe::app;

class TestModelService : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_fixture;
    QString m_corrupt;

    struct Harness {
        ModelService* service = new ModelService;
        WorkerThread thread{service, QStringLiteral("model-test")};
    };

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        m_fixture = m_dir.filePath(QStringLiteral("fixture-tiny.gguf"));
        moe::FixtureSpec spec = moe::fixture_preset(moe::Arch::Deepseek2, "tiny").value();
        spec.name = "service-fixture";
        auto written = moe::write_fixture(spec, m_fixture.toStdString());
        QVERIFY2(written.ok(), written.error().c_str());
        m_corrupt = m_dir.filePath(QStringLiteral("broken-model.gguf"));
        QFile f(m_corrupt);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray("GGUF\x03\x00\x00\x00", 8) + QByteArray("this is not a model"));
    }

    void describesWithoutLoading() {
        const ModelInfo info = describeModelFileAsync(m_fixture).result();
        QVERIFY2(info.ok(), qPrintable(info.error));
        QCOMPARE(info.record.name, QStringLiteral("service-fixture"));
        QCOMPARE(info.record.architecture, QStringLiteral("deepseek2"));
        QCOMPARE(info.record.nExpert.value_or(0), 16);
        QCOMPARE(info.record.nExpertUsed.value_or(0), 4);
        QCOMPARE(info.record.nExpertShared.value_or(0), 1);
        QVERIFY(info.record.paramsActive.value_or(0) < info.record.paramsTotal.value_or(0));
        QCOMPARE(info.record.fileBytes.value_or(0), QFileInfo(m_fixture).size());
        QVERIFY(info.record.quantization.startsWith(QStringLiteral("F32")));
        // The KV cache grows linearly with the context; the weights do not.
        const moe::MemoryPlan small = info.plan(1024), big = info.plan(4096);
        QCOMPARE(small.weight_bytes, big.weight_bytes);
        QCOMPARE(big.kv_bytes, 4 * small.kv_bytes);
        QVERIFY(big.total_bytes > small.total_bytes);
    }

    void describeErrorsNameTheFile() {
        const ModelInfo corrupt = describeModelFile(m_corrupt);
        QVERIFY(!corrupt.ok());
        QVERIFY2(corrupt.error.contains(QStringLiteral("broken-model.gguf")), qPrintable(corrupt.error));
        const ModelInfo missing = describeModelFile(m_dir.filePath(QStringLiteral("nowhere.gguf")));
        QVERIFY(missing.error.contains(QStringLiteral("nowhere.gguf")));
        QVERIFY(missing.error.contains(QStringLiteral("no such file")));
    }

    void loadsOnItsThreadWithProgress() {
        Harness h;
        QSignalSpy progress(h.service, &ModelService::loadProgress);
        QSignalSpy loaded(h.service, &ModelService::modelLoaded);
        QThread* loadThread = nullptr;
        connect(
            h.service, &ModelService::loadStarted, this, [&] { loadThread = QThread::currentThread(); },
            Qt::DirectConnection);
        h.service->requestLoad({m_fixture, 7, 2048, 2, false});
        QVERIFY((loaded.count() > 0 || loaded.wait(10000)));
        QCOMPARE(loadThread, h.thread.thread());
        QVERIFY(!progress.isEmpty());
        const QList<QVariant> last = progress.last();
        QCOMPARE(last.at(0).toLongLong(), last.at(1).toLongLong());  // reached the end
        QVERIFY(last.at(1).toLongLong() > 0);
        const auto summary = loaded.first().at(1).value<ModelSummary>();
        QCOMPARE(summary.modelId, qint64(7));
        QCOMPARE(summary.name, QStringLiteral("service-fixture"));
        QCOMPARE(summary.contextLength, qint64(2048));
        QCOMPARE(summary.moeLayers, 3);
        QCOMPARE(summary.deviceKind, QStringLiteral("cpu"));
        QVERIFY(!summary.deviceName.isEmpty());
        const auto model = loaded.first().at(0).value<std::shared_ptr<moe::Model>>();
        QVERIFY(model);
        QCOMPARE(h.service->currentModel().get(), model.get());
        QCOMPARE(h.service->currentSummary().path, m_fixture);

        QSignalSpy unloaded(h.service, &ModelService::modelUnloaded);
        h.service->requestUnload();
        QVERIFY((unloaded.count() > 0 || unloaded.wait(5000)));
        QVERIFY(!h.service->currentModel());
        QVERIFY(h.service->currentSummary().path.isEmpty());
    }

    void cancelBeforeTheLoadStarts() {
        Harness h;
        QSemaphore gate;
        // Hold the service's thread so the load is still queued when cancel is pressed.
        QMetaObject::invokeMethod(
            h.service, [&gate] { gate.acquire(); }, Qt::QueuedConnection);
        QSignalSpy cancelled(h.service, &ModelService::loadCancelled);
        QSignalSpy loaded(h.service, &ModelService::modelLoaded);
        h.service->requestLoad({m_fixture, 0, 1024, 2, false});
        QVERIFY(h.service->isLoading());
        h.service->cancelLoad();
        gate.release();
        QVERIFY((cancelled.count() > 0 || cancelled.wait(5000)));
        QCOMPARE(cancelled.first().at(0).toString(), m_fixture);
        QVERIFY(loaded.isEmpty());
        QVERIFY(!h.service->isLoading());
        QVERIFY(!h.service->currentModel());
    }

    void cancelInTheMiddleOfTheLoad() {
        Harness h;
        h.service->setProgressIntervalMs(0);
        // The first progress step (0 bytes) cancels; the engine stops at the next one.
        const QMetaObject::Connection canceller = connect(
            h.service, &ModelService::loadProgress, h.service,
            [&h](qint64 done, qint64) {
                if (done == 0) h.service->cancelLoad();
            },
            Qt::DirectConnection);
        QSignalSpy cancelled(h.service, &ModelService::loadCancelled);
        QSignalSpy failed(h.service, &ModelService::loadFailed);
        QSignalSpy loaded(h.service, &ModelService::modelLoaded);
        h.service->requestLoad({m_fixture, 0, 1024, 2, false});
        QVERIFY((cancelled.count() > 0 || cancelled.wait(10000)));
        QVERIFY(loaded.isEmpty());
        QVERIFY(failed.isEmpty());
        QVERIFY(!h.service->currentModel());
        // The next load is not affected by the earlier cancel.
        QObject::disconnect(canceller);
        h.service->requestLoad({m_fixture, 0, 1024, 2, false});
        QVERIFY((loaded.count() > 0 || loaded.wait(10000)));
    }

    void corruptFileFailsNamingIt() {
        Harness h;
        QSignalSpy failed(h.service, &ModelService::loadFailed);
        h.service->requestLoad({m_corrupt, 0, 1024, 2, false});
        QVERIFY((failed.count() > 0 || failed.wait(5000)));
        QCOMPARE(failed.first().at(0).toString(), m_corrupt);
        const QString message = failed.first().at(1).toString();
        QVERIFY2(message.contains(QStringLiteral("broken-model.gguf")), qPrintable(message));
        QVERIFY(!h.service->currentModel());
    }

    void memoryFitRule() {
        const auto mem = parseSystemMemory("MemTotal:       16000000 kB\nMemFree: 1 kB\nMemAvailable:    8000000 kB\n");
        QVERIFY(mem.has_value());
        QCOMPARE(mem->totalBytes, 16000000LL * 1024);
        QCOMPARE(mem->availableBytes, 8000000LL * 1024);
        QCOMPARE(classifyMemoryFit(1024LL * 1024 * 1024, *mem), MemoryFit::Fits);
        QCOMPARE(classifyMemoryFit(7900000LL * 1024, *mem), MemoryFit::Tight);
        QCOMPARE(classifyMemoryFit(17000000LL * 1024, *mem), MemoryFit::DoesNotFit);
        QVERIFY(!parseSystemMemory("MemTotal: 5 kB\n").has_value());
        QCOMPARE(formatBytes(1536), QStringLiteral("1.50 KiB"));
        QCOMPARE(formatCount(671000000000LL), QStringLiteral("671 B"));
    }
};

QTEST_GUILESS_MAIN(TestModelService)
#include "test_model_service.moc"
