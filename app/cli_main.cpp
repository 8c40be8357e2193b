// bnlab-cli: the headless trainer. `bnlab-cli --help` lists the commands.

#include "allocation.h"
#include "cli_progress.h"
#include "data_location.h"
#include "dataset.h"
#include "error.h"
#include "presets.h"
#include "run_reader.h"
#include "run_writer.h"
#include "trainer.h"

#ifdef BNLAB_HAVE_PLOT
#include "chart_export.h"

#include <QApplication>
#include <QLabel>
#include <QVBoxLayout>
#endif

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

using namespace bnlab;
using namespace bnlab::app;

std::atomic<bool> gInterrupted{false};

// The first Ctrl-C asks the run to stop after its current step (everything is kept); a second one ends the
// program at once.
extern "C" void onSigint(int) {
    if (gInterrupted.exchange(true)) std::_Exit(130);
}

// Stops the trainer at the next step once Ctrl-C was pressed, whether or not progress is shown.
class StopOnInterrupt final : public engine::MetricsSink {
public:
    explicit StopOnInterrupt(engine::Trainer*& trainer) : m_trainer(trainer) {}
    void onStep(const engine::StepRecord&) override {
        if (gInterrupted.load() && m_trainer) m_trainer->requestStop();
    }

private:
    engine::Trainer*& m_trainer;
};

struct UsageError : Error {
    using Error::Error;
};

const char* kUsage =
    "usage: bnlab-cli COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  presets                 list the built-in presets\n"
    "  train                   train a network and write a run folder (bnlab-cli train --help)\n"
    "  plot                    draw a chart of saved runs to PNG, SVG or PDF (bnlab-cli plot --help)\n"
    "  help [COMMAND]          show this text or a command's\n";

const char* kPlotUsage =
    "usage: bnlab-cli plot --run DIR [--run DIR]... --chart NAME --out FILE.(png|svg|pdf)\n"
    "                      [--layer L] [--post] [--overlay] [--feature N] [--x step|epoch|samples|time] [--smoothing W]\n"
    "                      [--width W] [--height H] [--scale S]\n"
    "\n"
    "Draws the window's charts from saved run folders (of bnlab or bnlab-cli), headless: no display needed.\n"
    "Several --run: loss, accuracy and loss-accuracy draw every run on the same axes, one colour each, the legend\n"
    "naming what each run sets differently from the first; activations draws one panel per run with a shared\n"
    "y axis (--overlay: all on one chart); the other charts are drawn once per run, stacked.\n"
    "\n"
    "  --chart NAME   loss, accuracy, loss-accuracy, grad-norms, update-ratios, activations, bn-stats\n"
    "  --layer L      activations: a block name (dense2, conv1) or its number from 1; bn-stats: a BN layer (bn2)\n"
    "  --post         activations: the output of the nonlinearity instead of its input\n"
    "  --overlay      activations of several runs: one chart, each run's 15-85th percentile band and median\n"
    "  --feature N    bn-stats: which of the four followed features (0-3, default 0)\n"
    "  --x AXIS       step (default), epoch, samples (thousands) or time (wall-clock seconds)\n"
    "  --smoothing W  loss, accuracy: moving-average weight in [0, 1) (default 0.98)\n"
    "  --width W, --height H   size of one chart in logical pixels (default 1000 x 500)\n"
    "  --scale S      PNG pixels per logical pixel (default 2)\n";

#ifdef BNLAB_HAVE_PLOT
int plot(const QStringList& args) {
    QStringList runs;
    QString out;
    ui::ChartRequest request;
    int width = 1000, height = 500;
    double scale = 2.0;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        auto value = [&]() -> QString {
            if (i + 1 >= args.size()) throw UsageError("plot: " + a.toStdString() + " needs a value");
            return args[++i];
        };
        auto number = [&](double lo, double hi) {
            const QString v = value();
            bool ok = false;
            const double d = v.toDouble(&ok);
            if (!ok || !(d >= lo && d <= hi))
                throw Error("plot: " + a.toStdString() + ": expected a number from " + QString::number(lo).toStdString() +
                            " to " + QString::number(hi).toStdString() + ", got '" + v.toStdString() + "'");
            return d;
        };
        if (a == "--help" || a == "-h") {
            std::fputs(kPlotUsage, stdout);
            return 0;
        } else if (a == "--run") runs << value();
        else if (a == "--chart") request.chart = value();
        else if (a == "--out") out = value();
        else if (a == "--layer") request.layer = value();
        else if (a == "--post") request.postActivation = true;
        else if (a == "--overlay") request.overlay = true;
        else if (a == "--feature") request.feature = int(number(0, 3));
        else if (a == "--smoothing") request.smoothing = number(0, 0.999);
        else if (a == "--width") width = int(number(200, 10000));
        else if (a == "--height") height = int(number(150, 10000));
        else if (a == "--scale") scale = number(0.25, 8);
        else if (a == "--x") {
            const QString x = value();
            if (!ui::xAxisFromName(x, request.xAxis))
                throw Error("plot: --x: expected step, epoch, samples or time, got '" + x.toStdString() + "'");
        } else throw UsageError("plot: unknown option '" + a.toStdString() + "' (bnlab-cli plot --help)");
    }
    if (runs.isEmpty()) throw UsageError("plot: --run DIR is required (a run folder of bnlab or bnlab-cli)");
    if (request.chart.isEmpty()) throw UsageError("plot: --chart NAME is required");
    if (out.isEmpty()) throw UsageError("plot: --out FILE is required");
    if (!ui::chartNames().contains(request.chart))
        throw Error("chart: unknown chart '" + request.chart.toStdString() + "' (known: " +
                    ui::chartNames().join(", ").toStdString() + ")");

    std::vector<RunData> data;
    for (const QString& r : runs) data.push_back(loadRun(r));  // everything read before anything is drawn
    QWidget page;
    page.setAttribute(Qt::WA_DontShowOnScreen);
    auto* layout = new QVBoxLayout(&page);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(4);
    std::vector<std::unique_ptr<QWidget>> charts;
    auto add = [&](std::unique_ptr<QWidget> chart) {
        chart->setFixedSize(width, height);
        layout->addWidget(chart.get());
        charts.push_back(std::move(chart));
    };
    const std::vector<ui::ComparedRun> compared = ui::comparedRuns(data);
    if (data.size() > 1 && ui::comparable(request.chart)) {
        add(ui::makeComparison(request, compared, QSize(width, height)));
    } else {
        for (const RunData& run : data) {
            if (data.size() > 1) {
                auto* label = new QLabel(run.name, &page);
                label->setContentsMargins(8, 6, 0, 0);
                QFont font = label->font();
                font.setBold(true);
                label->setFont(font);
                layout->addWidget(label);
            }
            add(ui::makeChart(request, run, QSize(width, height)));
        }
    }
    page.show();
    page.adjustSize();
    QApplication::processEvents();
    QStringList names;
    for (const RunData& run : data) names << run.name;
    const QString title = (data.size() == 1 ? names.first() : names.join(" · ")) + " — " + request.chart;
    ui::exportWidget(&page, title, out, scale);
    for (auto& c : charts) c.release();  // owned by page's layout now
    std::printf("%s\n", out.toUtf8().constData());
    return 0;
}
#endif

void printTrainHelp() {
    std::printf(
        "usage: bnlab-cli train [--preset NAME | --config FILE] [--set KEY=VALUE]... [--data DIR]\n"
        "                       [--at STEP:KEY=VALUE]... [--threads N] --out DIR\n"
        "\n"
        "Trains on the bundled MNIST (or --data DIR, any folder with the four IDX files, e.g. Fashion-MNIST)\n"
        "and writes DIR/config.json, run_info.json, steps.csv, evals.csv, probes.jsonl and, when the run\n"
        "ends, summary.json. Ctrl-C stops the run after the current step and keeps everything so far.\n"
        "\n"
        "  --preset NAME      start from a preset (default %s; see bnlab-cli presets)\n"
        "  --config FILE      start from a config.json written by an earlier run\n"
        "  --set KEY=VALUE    change one setting (repeatable, applied in order)\n"
        "  --at STEP:KEY=VALUE  change a setting after STEP steps, as the window's live controls do\n"
        "                     (learning_rate, bn_momentum, batch_size, block.N.norm; e.g. 500:learning_rate=1,\n"
        "                     300:block.2.norm=none folds that BN layer away); recorded in changes.jsonl\n"
        "  --data DIR         dataset folder (default: the bundled MNIST)\n"
        "  --threads N        same as --set threads=N\n"
        "  --out DIR          the run folder to create (must not hold a run already)\n"
        "  --quiet            no progress output\n"
        "\n"
        "keys (defaults are those of %s):\n",
        defaultPresetName().toUtf8().constData(), defaultPresetName().toUtf8().constData());
    const RunConfig& def = findPreset(defaultPresetName()).config;
    for (const ConfigKey& k : configKeys()) {
        const QString value = settingValue(def, k.name);
        std::printf("  %-20s %-24s %s%s\n", k.name.toUtf8().constData(), k.range.toUtf8().constData(),
                    k.help.toUtf8().constData(),
                    value.isEmpty() ? "" : (" [default " + value + "]").toUtf8().constData());
    }
    std::printf("\nexit status: 0 finished, 1 error, 2 usage error, 3 diverged (NaN/Inf), 130 interrupted\n");
}

int listPresets() {
    for (const Preset& p : presets())
        std::printf("%-20s %s\n", p.name.toUtf8().constData(), p.description.toUtf8().constData());
    return 0;
}

int train(const QStringList& args) {
    QString preset, configFile, dataDir, outDir;
    QStringList settings, planned;
    bool quiet = false;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        auto value = [&]() -> QString {
            if (i + 1 >= args.size()) throw UsageError("train: " + a.toStdString() + " needs a value");
            return args[++i];
        };
        if (a == "--help" || a == "-h") {
            printTrainHelp();
            return 0;
        } else if (a == "--preset") preset = value();
        else if (a == "--config") configFile = value();
        else if (a == "--set") settings << value();
        else if (a == "--at") planned << value();
        else if (a == "--data") dataDir = value();
        else if (a == "--threads") settings << "threads=" + value();
        else if (a == "--out") outDir = value();
        else if (a == "--quiet") quiet = true;
        else throw UsageError("train: unknown option '" + a.toStdString() + "' (bnlab-cli train --help)");
    }
    if (outDir.isEmpty()) throw UsageError("train: --out DIR is required (the run folder to create)");
    if (!preset.isEmpty() && !configFile.isEmpty()) throw UsageError("train: give either --preset or --config, not both");

    RunConfig config = configFile.isEmpty() ? findPreset(preset.isEmpty() ? defaultPresetName() : preset).config
                                            : loadConfigFile(configFile);
    for (const QString& s : settings) applySetting(config, s);
    for (const QString& p : planned) addScheduledChange(config, p);

    if (dataDir.isEmpty()) {
        dataDir = findBundledMnist(QCoreApplication::applicationDirPath());
        if (dataDir.isEmpty())
            throw Error("the bundled MNIST was not found next to the program or in its source tree; use --data DIR");
    }
    const engine::Dataset data = engine::loadDataset(dataDir.toStdString());
    engine::validate(config.train, data);  // every setting is checked before anything is written

    RunWriter writer(outDir, config, QFileInfo(dataDir).absoluteFilePath());
    engine::Trainer* trainerPtr = nullptr;
    CliProgress progress(stderr, isatty(fileno(stderr)) != 0);
    StopOnInterrupt interrupt(trainerPtr);
    std::vector<engine::MetricsSink*> sinks{&writer, &interrupt};
    if (!quiet) sinks.push_back(&progress);
    TeeSink tee(sinks);
    engine::Trainer trainer(data, config.train, tee);
    trainerPtr = &trainer;
    std::signal(SIGINT, onSigint);
    if (!quiet)
        std::fprintf(stderr, "bnlab-cli: %s on %s -> %s\n", config.preset.toUtf8().constData(),
                     data.name.c_str(), outDir.toUtf8().constData());
    const engine::RunSummary summary = trainer.run();
    std::signal(SIGINT, SIG_DFL);
    switch (summary.reason) {
        case engine::StopReason::Diverged:
            std::fprintf(stderr, "bnlab-cli: %s\n", summary.message.c_str());
            return 3;
        case engine::StopReason::Stopped: return 130;
        default: return 0;
    }
}

}  // namespace

int main(int argc, char** argv) {
    app::returnLargeBlocksToTheSystem();
    // plot draws widgets: a QApplication, on the offscreen platform when there is no display.
    const bool plotting = argc > 1 && std::string(argv[1]) == "plot";
    if (plotting && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY") &&
        qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
#ifdef BNLAB_HAVE_PLOT
    // The offscreen platform's notes ("does not support propagateSizeHints", XDG_RUNTIME_DIR) are not for users.
    if (plotting)
        qInstallMessageHandler([](QtMsgType type, const QMessageLogContext&, const QString& message) {
            if (type == QtDebugMsg || type == QtInfoMsg || message.contains("propagateSizeHints") ||
                message.contains("XDG_RUNTIME_DIR"))
                return;
            std::fprintf(stderr, "bnlab-cli: %s\n", message.toLocal8Bit().constData());
        });
    std::unique_ptr<QCoreApplication> app(plotting ? new QApplication(argc, argv) : new QCoreApplication(argc, argv));
#else
    QCoreApplication app(argc, argv);
#endif
    QStringList args = QCoreApplication::arguments().mid(1);
    try {
        if (args.isEmpty()) throw UsageError("no command given");
        const QString command = args.takeFirst();
        if (command == "--help" || command == "-h" || (command == "help" && args.isEmpty())) {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (command == "help") {
            if (args.first() == "train") printTrainHelp();
            else if (args.first() == "plot") std::fputs(kPlotUsage, stdout);
            else if (args.first() == "presets") std::puts("usage: bnlab-cli presets\nLists the built-in presets with a one-line description each.");
            else throw UsageError("help: unknown command '" + args.first().toStdString() + "'");
            return 0;
        }
        if (command == "presets") return listPresets();
        if (command == "train") return train(args);
        if (command == "plot") {
#ifdef BNLAB_HAVE_PLOT
            return plot(args);
#else
            throw Error("plot: this bnlab-cli was built without the charts (BNLAB_BUILD_GUI=OFF)");
#endif
        }
        throw UsageError("unknown command '" + command.toStdString() + "'");
    } catch (const UsageError& e) {
        std::fprintf(stderr, "bnlab-cli: %s\n\n%s", e.what(), kUsage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bnlab-cli: %s\n", e.what());
        return 1;
    }
}
