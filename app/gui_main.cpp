// bnlab: the desktop application.
//   bnlab [--preset NAME] [--data DIR] [--start]

#include "allocation.h"
#include "data_location.h"
#include "main_window.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>

#include <QTimer>

#include <atomic>
#include <csignal>
#include <cstdio>

namespace {
std::atomic<bool> gTerminate{false};
extern "C" void onTerminate(int) { gTerminate.store(true); }
}  // namespace

int main(int argc, char** argv) {
    bnlab::app::returnLargeBlocksToTheSystem();
    QApplication app(argc, argv);
    QApplication::setApplicationName("bnlab");
    QApplication::setOrganizationName("BN Lab");
    QApplication::setApplicationDisplayName("BN Lab");
    QApplication::setApplicationVersion(BNLAB_VERSION);
    QApplication::setWindowIcon(QIcon(":/bnlab/icon.svg"));

    QCommandLineParser parser;
    parser.setApplicationDescription("BN Lab: Batch Normalization by experiment");
    parser.addHelpOption();
    QCommandLineOption preset("preset", "Start from the preset NAME (bnlab-cli presets lists them).", "NAME");
    QCommandLineOption data("data", "Dataset folder with the four IDX files (default: the bundled MNIST).", "DIR");
    QCommandLineOption start("start", "Start training at once.");
    QCommandLineOption at("at", "Change a setting after STEP steps of the run (repeatable), as the live controls "
                                "do: learning_rate, bn_momentum, batch_size or block.N.norm.", "STEP:KEY=VALUE");
    parser.addOptions({preset, data, start, at});
    parser.process(app);

    bnlab::ui::MainWindow window;
    QString folder = parser.value(data);
    if (folder.isEmpty()) folder = bnlab::app::findBundledMnist(QApplication::applicationDirPath());
    if (folder.isEmpty()) std::fprintf(stderr, "bnlab: the bundled MNIST was not found; use --data DIR or File > Open\n");
    const bool loaded = !folder.isEmpty() && window.openDataset(folder);
    if (parser.isSet(preset)) {
        try {
            window.selectPreset(parser.value(preset));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "bnlab: %s\n", e.what());
            return 2;
        }
    }
    window.setSchedule(parser.values(at));
    window.show();
    if (parser.isSet(start) && loaded) window.startRun();

    // SIGTERM and SIGINT close the window as the user would: the run stops after its current step and its
    // folder gets its summary. (A signal handler may only set a flag; a timer looks at it.)
    std::signal(SIGTERM, onTerminate);
    std::signal(SIGINT, onTerminate);
    QTimer terminateCheck;
    QObject::connect(&terminateCheck, &QTimer::timeout, &window, [&window] {
        if (gTerminate.load()) window.close();
    });
    terminateCheck.start(100);
    return app.exec();
}
