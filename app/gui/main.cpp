// moe-workbench: the desktop application. Parses the command line and runs the Workbench (the Store, the
// services on their threads, the main window and its pages; ui/workbench.h), which shuts down in order.
//   moe-workbench [--data-dir DIR] [--model PATH]
#include "main_window.h"
#include "workbench.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QMessageBox>
#include <QStandardPaths>

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("MoE Workbench"));
    QApplication::setApplicationName(QStringLiteral("moe-workbench"));
    QApplication::setApplicationDisplayName(QStringLiteral("MoE Workbench"));
    QApplication::setApplicationVersion(QStringLiteral("0.4.0"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Desktop workbench for DeepSeek-family MoE models"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption dataDirOption(
        QStringLiteral("data-dir"), QStringLiteral("Keep the database and settings in DIR."), QStringLiteral("DIR"));
    const QCommandLineOption modelOption(QStringLiteral("model"),
                                         QStringLiteral("Add the model at PATH to the library and load it."),
                                         QStringLiteral("PATH"));
    parser.addOption(dataDirOption);
    parser.addOption(modelOption);
    parser.process(app);

    QString dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    if (parser.isSet(dataDirOption)) {
        dataDir = QDir(parser.value(dataDirOption)).absolutePath();
        // Settings beside the database, so a test or a screenshot run never touches the user's own.
        moe::ui::Workbench::keepSettingsIn(dataDir);
    }

    moe::ui::Workbench workbench(dataDir);
    if (const QString error = workbench.open(); !error.isEmpty()) {
        QMessageBox::critical(nullptr, QStringLiteral("MoE Workbench"),
                              QStringLiteral("The workbench database could not be opened.\n\n%1").arg(error));
        return 1;
    }
    workbench.window()->show();
    if (parser.isSet(modelOption)) workbench.loadModelAtStart(parser.value(modelOption));
    return QApplication::exec();
}
