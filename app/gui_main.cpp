// bnlab: the desktop application.
//   bnlab [--preset NAME] [--set KEY=VALUE]... [--data DIR] [--start] [--at STEP:KEY=VALUE]... [--compare KEY=VALUE[,...]]...
//         [--seeds N] [--open RUN_DIR]... [--tab run|compare|table|predictions] [--experiment NAME [--full]]

#include "allocation.h"
#include "data_location.h"
#include "config_panel.h"
#include "main_window.h"
#include "run_set.h"

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
    QCommandLineOption set("set", "Change a setting of the preset (repeatable), as bnlab-cli's --set.", "KEY=VALUE");
    QCommandLineOption compare("compare", "With --start: also start a run with these settings changed, beside the "
                                          "first (repeatable), e.g. --compare norm=none --compare batch_size=8.",
                               "KEY=VALUE[,KEY=VALUE]");
    QCommandLineOption seeds("seeds", "With --start: repeat the first run with N seeds in all (a seed group).", "N");
    QCommandLineOption open("open", "Open a saved run folder (repeatable).", "RUN_DIR");
    QCommandLineOption tab("tab", "Show this tab: run, compare, table or predictions.", "TAB");
    QCommandLineOption compareView("compare-view", "What the Compare tab's lower panel shows: " +
                                                       bnlab::ui::MainWindow::compareViewNames().join(", ") + ".",
                                   "CHART");
    QCommandLineOption experiment("experiment", "Start a guided experiment (bnlab-cli experiments lists them).", "NAME");
    QCommandLineOption full("full", "With --experiment: the full version instead of the quick one.");
    parser.addOptions({preset, data, start, at, set, compare, seeds, open, tab, compareView, experiment, full});
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
    try {
        window.applySettings(parser.values(set));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bnlab: --set: %s\n", e.what());
        return 2;
    }
    window.setSchedule(parser.values(at));
    window.show();
    for (const QString& run : parser.values(open)) window.openRun(run);
    if (parser.isSet(start) && loaded) {
        const bnlab::app::RunConfig base = window.configPanel()->config();
        window.startRun();
        const int first = window.currentRunId();
        for (const QString& changes : parser.values(compare)) {
            window.newRun();
            window.configPanel()->setConfig(base);
            try {
                window.applySettings(changes.split(',', Qt::SkipEmptyParts));
            } catch (const std::exception& e) {
                std::fprintf(stderr, "bnlab: --compare %s: %s\n", qPrintable(changes), e.what());
                return 2;
            }
            window.startRun();
        }
        if (parser.isSet(seeds) && first != 0) window.repeatWithSeeds(first, parser.value(seeds).toInt());
        if (!parser.values(compare).isEmpty() || parser.isSet(seeds)) window.showTab(1);
    }
    if (parser.isSet(experiment) && loaded) {
        if (window.startExperiment(parser.value(experiment), !parser.isSet(full)).empty()) {
            std::fprintf(stderr, "bnlab: %s\n", qPrintable(window.errorText()));
            return 2;
        }
    }
    if (parser.isSet(compareView) && !window.showCompareView(parser.value(compareView))) {
        std::fprintf(stderr, "bnlab: --compare-view: expected one of %s; got '%s'\n",
                     qPrintable(bnlab::ui::MainWindow::compareViewNames().join(", ")), qPrintable(parser.value(compareView)));
        return 2;
    }
    const QString tabName = parser.value(tab);
    if (!tabName.isEmpty()) {
        const int index = QStringList{"run", "compare", "table", "predictions"}.indexOf(tabName);
        if (index < 0) {
            std::fprintf(stderr, "bnlab: --tab: expected run, compare, table or predictions, got '%s'\n", qPrintable(tabName));
            return 2;
        }
        window.showTab(index);
    }

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
