// bnlab-gui-bench: how responsive the window stays while it trains, and what the window costs training.
//
//   bnlab-gui-bench [--preset NAME] [--set KEY=VALUE]... [--data DIR] [--runs N]
//
// Runs the real main window (offscreen unless a display is set) on a run, measures the event loop's latency
// with a 5 ms timer (the longest and the 99th-percentile gap between ticks beyond the interval), then trains
// the same configuration headless in the same process, and prints both throughputs and their ratio.
// --runs N: the window trains N runs of the configuration side by side (seeds seed, seed+1, ...); the total
// throughput (all their samples over the wall-clock time until the last one finished) is compared with the
// one headless run's (its samples over its wall-clock time, evaluations included on both sides), and the
// process's peak resident memory while the window trained is printed.

#include "allocation.h"
#include "config_panel.h"
#include "data_location.h"
#include "dataset.h"
#include "main_window.h"
#include "metrics.h"
#include "presets.h"
#include "trainer.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QTimer>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace {

double peakResidentMb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024.0;  // kB on Linux
}

}  // namespace

int main(int argc, char** argv) {
    bnlab::app::returnLargeBlocksToTheSystem();  // as bnlab does: the memory figure is the window's
    if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QString preset = "bn-paper-mlp", dataDir;
    QStringList settings;
    int runs = 1;
    const QStringList args = QApplication::arguments().mid(1);
    for (int i = 0; i < args.size(); ++i) {
        if (args[i] == "--preset" && i + 1 < args.size()) preset = args[++i];
        else if (args[i] == "--set" && i + 1 < args.size()) settings << args[++i];
        else if (args[i] == "--data" && i + 1 < args.size()) dataDir = args[++i];
        else if (args[i] == "--runs" && i + 1 < args.size()) runs = std::clamp(args[++i].toInt(), 1, 8);
        else {
            std::fprintf(stderr, "usage: bnlab-gui-bench [--preset NAME] [--set KEY=VALUE]... [--data DIR] [--runs N]\n");
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
    auto allFinished = [&] {
        for (const auto& e : window.runs().entries())
            if (e->run().state != bnlab::app::RunState::Finished) return false;
        return true;
    };
    QTimer tick;
    tick.setInterval(5);
    QObject::connect(&tick, &QTimer::timeout, [&] {
        const qint64 now = clock.nsecsElapsed();
        // Measured from the first training step on: window creation and first paint are not training.
        if (!window.currentRun().steps.empty()) gaps.push_back(double(now - last) / 1e6 - 5.0);
        last = now;
        if (allFinished()) app.quit();
    });
    tick.start();
    const std::uint64_t seed = window.configPanel()->config().train.seed;
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i) {
        if (i > 0) window.newRun();
        window.applySettings({QStringLiteral("seed=%1").arg(seed + std::uint64_t(i))});
        window.startRun();
    }
    app.exec();
    const double windowSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double windowPeakMb = peakResidentMb();
    std::int64_t windowSamples = 0;
    for (const auto& e : window.runs().entries()) {
        if (!e->run().summary) {
            std::fprintf(stderr, "a run did not finish: %s\n", e->run().error.toUtf8().constData());
            return 1;
        }
        if (!e->run().steps.empty()) windowSamples += e->run().steps.back().samples;
    }
    const auto& run = window.currentRun();
    std::sort(gaps.begin(), gaps.end());
    const double maxGap = gaps.empty() ? 0 : gaps.back();
    const double p99 = gaps.empty() ? 0 : gaps[std::size_t(0.99 * double(gaps.size() - 1))];
    const double guiRate = run.summary->samplesPerSecond;

    // The same configuration, headless, in this process.
    struct Null : bnlab::engine::MetricsSink {} sink;
    const bnlab::engine::Dataset data = bnlab::engine::loadDataset(dataDir.toStdString());
    bnlab::engine::Trainer trainer(data, run.config.train, sink);
    const auto headlessStart = std::chrono::steady_clock::now();
    const bnlab::engine::RunSummary headless = trainer.run();
    const double headlessSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - headlessStart).count();
    const double cliRate = headless.samplesPerSecond;

    std::printf("preset %s, %ld steps\n", preset.toUtf8().constData(), run.summary->steps);
    std::printf("event loop latency while training: max %.1f ms, 99th percentile %.1f ms (%zu ticks)\n", maxGap, p99,
                gaps.size());
    if (runs == 1)
        std::printf("training throughput: window %.0f samples/s, headless %.0f samples/s, ratio %.2f\n", guiRate,
                    cliRate, guiRate / cliRate);
    if (runs > 1) {
        const double together = double(windowSamples) / windowSeconds;
        const double alone = double(run.steps.back().samples) / headlessSeconds;
        std::printf("%d runs in the window together: %.0f samples/s over %.1f s; one headless run: %.0f samples/s "
                    "(wall clock, evaluations included); ratio %.2f\n",
                    runs, together, windowSeconds, alone, together / alone);
    }
    std::printf("peak resident memory while the window trained: %.0f MB\n", windowPeakMb);
    return 0;
}
