// bnlab: the desktop application.
//   bnlab [--preset NAME] [--data DIR] [--start]

#include "data_location.h"
#include "main_window.h"

#include <QApplication>
#include <QCommandLineParser>

#include <cstdio>

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName("bnlab");
    QApplication::setOrganizationName("BN Lab");
    QApplication::setApplicationDisplayName("BN Lab");

    QCommandLineParser parser;
    parser.setApplicationDescription("BN Lab: Batch Normalization by experiment");
    parser.addHelpOption();
    QCommandLineOption preset("preset", "Start from the preset NAME (bnlab-cli presets lists them).", "NAME");
    QCommandLineOption data("data", "Dataset folder with the four IDX files (default: the bundled MNIST).", "DIR");
    QCommandLineOption start("start", "Start training at once.");
    parser.addOptions({preset, data, start});
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
    window.show();
    if (parser.isSet(start) && loaded) window.startRun();
    return app.exec();
}
