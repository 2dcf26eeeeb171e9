// Owns the QThread a service worker runs on: moves the worker there (the worker never moves itself), deletes
// it on that thread when the thread ends, and joins in stop() / the destructor. Used by main() and the tests
// for every service (model, chat, ...).
#pragma once

#include <QObject>
#include <QThread>

namespace moe::app {

class WorkerThread {
public:
    // Takes ownership of `worker` (no parent) and starts the thread.
    WorkerThread(QObject* worker, const QString& name) : m_worker(worker) {
        m_thread.setObjectName(name);
        m_worker->moveToThread(&m_thread);
        QObject::connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
        m_thread.start();
    }
    ~WorkerThread() { stop(); }
    WorkerThread(const WorkerThread&) = delete;
    WorkerThread& operator=(const WorkerThread&) = delete;

    // Ends the event loop once the worker's current job returned (cancel it first), then joins; the worker
    // is deleted on its thread. Safe to call twice.
    void stop() {
        if (!m_thread.isRunning()) return;
        m_thread.quit();
        m_thread.wait();
    }
    QThread* thread() { return &m_thread; }

private:
    QThread m_thread;
    QObject* m_worker;
};

}  // namespace moe::app
