// bnlab-gui-bench: how responsive the window stays while it trains, and what the window costs training.
//
//   bnlab-gui-bench [--preset NAME] [--set KEY=VALUE]... [--data DIR]
//
// Runs the real main window (offscreen unless a display is set) on a run, measures the event loop's latency
// with a 5 ms timer (the longest and the 99th-percentile gap between ticks beyond the interval), then trains
// the same configuration headless in the same process, and prints both throughputs and their ratio.

#include "data_location.h"
#include "dataset.h"
#include "main_window.h"
#include "metrics.h"
#include "presets.h"
#include "trainer.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QString preset = "bn-paper-mlp", dataDir;
    QStringList settings;
    const QStringList args = QApplication::arguments().mid(1);
    for (int i = 0; i < args.size(); ++i) {
        if (args[i] == "--preset" && i + 1 < args.size()) preset = args[++i];
        else if (args[i] == "--set" && i + 1 < args.size()) settings << args[++i];
        else if (args[i] == "--data" && i + 1 < args.size()) dataDir = args[++i];
        else {
            std::fprintf(stderr, "usage: bnlab-gui-bench [--preset NAME] [--set KEY=VALUE]... [--data DIR]\n");
            return 2;
        }
    }
    if (dataDir.isEmpty()) dataDir = bnlab::app::findBundledMnist(QApplication::applicationDirPath());

    bnlab::ui::MainWindow window;
    if (!window.openDataset(dataDir)) return 1;
    window.selectPreset(preset);
    window.applySettings(settings);
    window.resize(1600, 1000);
    window.show();

    std::vector<double> gaps;
    QElapsedTimer clock;
    clock.start();
    qint64 last = clock.nsecsElapsed();
    QTimer tick;
    tick.setInterval(5);
    QObject::connect(&tick, &QTimer::timeout, [&] {
        const qint64 now = clock.nsecsElapsed();
        // Measured from the first training step on: window creation and first paint are not training.
        if (!window.currentRun().steps.empty()) gaps.push_back(double(now - last) / 1e6 - 5.0);
        last = now;
        if (window.currentRun().state == bnlab::app::RunState::Finished) app.quit();
    });
    tick.start();
    window.startRun();
    app.exec();
    const auto& run = window.currentRun();
    if (!run.summary) {
        std::fprintf(stderr, "the run did not finish: %s\n", run.error.toUtf8().constData());
        return 1;
    }
    std::sort(gaps.begin(), gaps.end());
    const double maxGap = gaps.empty() ? 0 : gaps.back();
    const double p99 = gaps.empty() ? 0 : gaps[std::size_t(0.99 * double(gaps.size() - 1))];
    const double guiRate = run.summary->samplesPerSecond;

    // The same configuration, headless, in this process.
    struct Null : bnlab::engine::MetricsSink {} sink;
    const bnlab::engine::Dataset data = bnlab::engine::loadDataset(dataDir.toStdString());
    bnlab::engine::Trainer trainer(data, run.config.train, sink);
    const double cliRate = trainer.run().samplesPerSecond;

    std::printf("preset %s, %ld steps\n", preset.toUtf8().constData(), run.summary->steps);
    std::printf("event loop latency while training: max %.1f ms, 99th percentile %.1f ms (%zu ticks)\n", maxGap, p99,
                gaps.size());
    std::printf("training throughput: window %.0f samples/s, headless %.0f samples/s, ratio %.2f\n", guiRate, cliRate,
                guiRate / cliRate);
    return 0;
}
