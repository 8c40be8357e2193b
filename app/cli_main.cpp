// bnlab-cli: the headless trainer. `bnlab-cli --help` lists the commands.

#include "allocation.h"
#include "cli_progress.h"
#include "data_location.h"
#include "dataset.h"
#include "error.h"
#include "experiments.h"
#include "presets.h"
#include "run_reader.h"
#include "run_set.h"
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
#include <QFile>
#include <QRegularExpression>

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
    "  experiments             list the guided experiments\n"
    "  experiment NAME         train a guided experiment's runs, write its figures and table (--help)\n"
    "  help [COMMAND]          show this text or a command's\n";

const char* kPlotUsage =
    "usage: bnlab-cli plot --run DIR [--run DIR]... --chart NAME --out FILE.(png|svg|pdf)\n"
    "                      [--layer L] [--post] [--overlay] [--bands paper|tensorboard] [--feature N]\n"
    "                      [--x step|epoch|samples|time] [--smoothing W] [--split validation|test]\n"
    "                      [--width W] [--height H] [--scale S]\n"
    "\n"
    "Draws the window's charts from saved run folders (of bnlab or bnlab-cli), headless: no display needed.\n"
    "Several --run: loss, accuracy and loss-accuracy draw every run on the same axes, one colour each, the legend\n"
    "naming what each run sets differently from the first; activations draws one panel per run with a shared\n"
    "y axis (--overlay: all on one chart); bn-stats draws every run's batch and running mean and variance of\n"
    "one BN layer's feature; grad-norms and update-ratios with --layer PARAM (dense1.weight) draw that\n"
    "parameter of every run on one chart (without --layer, once per run, stacked); the landscape charts draw\n"
    "every run on one chart.\n"
    "\n"
    "  --chart NAME   loss, accuracy, loss-accuracy, grad-norms, update-ratios, activations, bn-stats, confusion;\n"
    "                 of runs trained with landscape_interval > 0: loss-landscape (the loss range along the\n"
    "                 gradient), gradient-predictiveness, beta-smoothness, ics and ics-cosine (internal\n"
    "                 covariate shift per weight layer)\n"
    "  --layer L      activations: a block name (dense2, conv1) or its number from 1; bn-stats: a BN layer (bn2);\n"
    "                 grad-norms, update-ratios of several runs: a parameter (dense1.weight, bn1.gamma);\n"
    "                 ics, ics-cosine: one weight layer (dense2; default every one)\n"
    "  --post         activations: the output of the nonlinearity instead of its input\n"
    "  --bands STYLE  activations of one run: paper (0-100, 2-98, 15-85th percentile bands and the median, as the\n"
    "                 BN paper's Figure 1; the default) or tensorboard (TensorBoard's nine lines: min, the normal's\n"
    "                 ±1.5σ, ±1σ, ±0.5σ as percentiles, median, max)\n"
    "  --overlay      activations of several runs: one chart, each run's 15-85th percentile band and median\n"
    "  --feature N    bn-stats: which of the four followed features (0-3, default 0)\n"
    "  --split S      confusion: the latest validation matrix or the test one (default: test if the run has it)\n"
    "  --x AXIS       step (default), epoch, samples (thousands) or time (wall-clock seconds)\n"
    "  --smoothing W  loss, accuracy: moving-average weight in [0, 1) (default 0.98)\n"
    "  --width W, --height H   size of one chart in logical pixels (default 1000 x 500; confusion 600 x 560)\n"
    "  --scale S      PNG pixels per logical pixel (default 2)\n";

#ifdef BNLAB_HAVE_PLOT
int plot(const QStringList& args) {
    QStringList runs;
    QString out;
    ui::ChartRequest request;
    int width = 0, height = 0;  // 0: the chart's default
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
        else if (a == "--bands") {
            const QString style = value();
            try {
                request.bands = ui::bandStyleFromName(style);
            } catch (const std::exception& e) {
                throw Error(std::string("plot: --") + e.what());
            }
        } else if (a == "--feature") request.feature = int(number(0, 3));
        else if (a == "--split") {
            request.split = value();
            if (request.split != "validation" && request.split != "test")
                throw Error("plot: --split: expected validation or test, got '" + request.split.toStdString() + "'");
        }
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

    const bool square = request.chart == "confusion";  // a matrix: about as wide as it is tall
    if (width == 0) width = square ? 600 : 1000;
    if (height == 0) height = square ? 560 : 500;

    std::vector<RunData> data;
    for (const QString& r : runs) data.push_back(loadRun(r));  // everything read before anything is drawn
    if (request.chart == "confusion")
        for (const RunData& run : data) ui::requireConfusion(request, run);
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
    if (data.size() > 1 && ui::comparable(request)) {
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
        "       bnlab-cli train --fork RUN_DIR --at-step N [--set KEY=VALUE]... [--data DIR] [--threads N] --out DIR\n"
        "\n"
        "Trains on the bundled MNIST (or --data DIR, any folder with the four IDX files, e.g. Fashion-MNIST)\n"
        "and writes DIR/config.json, run_info.json, steps.csv, evals.csv, probes.jsonl, confusion.jsonl,\n"
        "predictions-validation.json (the latest evaluation's), checkpoints/ (training states, see --fork) and,\n"
        "when the run ends, predictions-test.json and summary.json. Ctrl-C stops the run after the current step\n"
        "and keeps everything so far.\n"
        "\n"
        "--fork makes a branch of a saved run: the same run up to step N exactly, then trained with the --set\n"
        "changes (learning_rate, bn_momentum, batch_size, block.N.norm). It continues from the run's latest\n"
        "checkpoint at or before N, replays the steps from there to N, and starts DIR with the run's records up\n"
        "to that checkpoint; a checkpoint that is missing or corrupt is passed over for an earlier one (or a\n"
        "replay from step 0), which gives the same numbers, only later. --data must be the run's dataset.\n"
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
        "  --fork RUN_DIR     branch the saved run RUN_DIR (of bnlab or bnlab-cli) after --at-step N\n"
        "  --at-step N        with --fork: the branch shares steps 1..N with RUN_DIR; --set changes apply after N\n"
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

QString datasetFolder(QString dataDir) {
    if (dataDir.isEmpty()) dataDir = findBundledMnist(QCoreApplication::applicationDirPath());
    if (dataDir.isEmpty())
        throw Error("the bundled MNIST was not found next to the program or in its source tree; use --data DIR");
    return dataDir;
}

// Trains config into the run folder outDir, with its checkpoints (Ctrl-C stops after the current step, keeping
// what was measured). past: the records the run starts with (a fork's copy of its parent's).
engine::RunSummary trainInto(const RunConfig& config, const engine::Dataset& data, const QString& dataDir,
                             const QString& outDir, bool quiet, const RunData& past = {}) {
    RunWriter writer(outDir, config, QFileInfo(dataDir).absoluteFilePath());
    writer.writePast(past);
    engine::TrainOptions options = config.train;
    options.checkpointFolder = outDir.toStdString();
    engine::Trainer* trainerPtr = nullptr;
    CliProgress progress(stderr, isatty(fileno(stderr)) != 0);
    StopOnInterrupt interrupt(trainerPtr);
    std::vector<engine::MetricsSink*> sinks{&writer, &interrupt};
    if (!quiet) sinks.push_back(&progress);
    TeeSink tee(sinks);
    engine::Trainer trainer(data, options, tee);
    trainerPtr = &trainer;
    std::signal(SIGINT, onSigint);
    if (!quiet)
        std::fprintf(stderr, "bnlab-cli: %s on %s -> %s\n", config.preset.toUtf8().constData(), data.name.c_str(),
                     outDir.toUtf8().constData());
    const engine::RunSummary summary = trainer.run();
    std::signal(SIGINT, SIG_DFL);
    return summary;
}

int train(const QStringList& args) {
    QString preset, configFile, dataDir, outDir, forkDir, threads;
    QStringList settings, planned;
    long forkStep = 0;
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
        else if (a == "--threads") threads = value();
        else if (a == "--out") outDir = value();
        else if (a == "--fork") forkDir = value();
        else if (a == "--at-step") {
            const QString v = value();
            bool ok = false;
            forkStep = v.toLong(&ok);
            if (!ok || forkStep < 1) throw UsageError("train: --at-step: expected a step number from 1, got '" + v.toStdString() + "'");
        }
        else if (a == "--quiet") quiet = true;
        else throw UsageError("train: unknown option '" + a.toStdString() + "' (bnlab-cli train --help)");
    }
    if (outDir.isEmpty()) throw UsageError("train: --out DIR is required (the run folder to create)");
    if (!preset.isEmpty() && !configFile.isEmpty()) throw UsageError("train: give either --preset or --config, not both");
    if (!forkDir.isEmpty() && (!preset.isEmpty() || !configFile.isEmpty() || !planned.isEmpty()))
        throw UsageError("train: --fork takes the run's own configuration: --preset, --config and --at do not go with "
                         "it (the changes after the fork step are --set KEY=VALUE)");
    if (forkDir.isEmpty() != (forkStep == 0)) throw UsageError("train: --fork RUN_DIR and --at-step N go together");

    RunConfig config;
    RunData past;
    if (!forkDir.isEmpty()) {
        const ForkPlan plan = planFork(loadRun(forkDir), forkDir, forkStep, settings);
        config = plan.config;
        past = plan.past;
        if (!quiet)
            std::fprintf(stderr, "bnlab-cli: fork of %s after step %ld: %s\n", forkDir.toUtf8().constData(), forkStep,
                         plan.note.toUtf8().constData());
    } else {
        config = configFile.isEmpty() ? findPreset(preset.isEmpty() ? defaultPresetName() : preset).config
                                      : loadConfigFile(configFile);
        for (const QString& s : settings) applySetting(config, s);
        for (const QString& p : planned) addScheduledChange(config, p);
    }
    if (!threads.isEmpty()) applySetting(config, "threads", threads);  // any number of threads gives the same run

    dataDir = datasetFolder(dataDir);
    const engine::Dataset data = engine::loadDataset(dataDir.toStdString());
    engine::validate(config.train, data);  // every setting is checked before anything is written

    const engine::RunSummary summary = trainInto(config, data, dataDir, outDir, quiet, past);
    switch (summary.reason) {
        case engine::StopReason::Diverged:
            std::fprintf(stderr, "bnlab-cli: %s\n", summary.message.c_str());
            return 3;
        case engine::StopReason::Stopped: return 130;
        default: return 0;
    }
}

const char* kExperimentUsage =
    "usage: bnlab-cli experiment NAME --out DIR [--quick] [--set KEY=VALUE]... [--data DIR] [--quiet]\n"
    "       bnlab-cli experiments\n"
    "\n"
    "Trains every run of a guided experiment (one after the other, each a run folder under DIR/runs/), then\n"
    "writes its figures (DIR/*.png and *.svg), DIR/summary.csv (one row per run) and DIR/README.md (the claim,\n"
    "what to look for, what to try next). --quick: the short version (about a minute on 2 cores); --set\n"
    "changes a setting of every run (after the experiment's own). `bnlab-cli experiments` lists them.\n";

int listExperiments() {
    for (const Experiment& e : experiments())
        std::printf("%-18s %s (%zu runs)\n", e.name.toUtf8().constData(), e.title.toUtf8().constData(), e.runs.size());
    return 0;
}

#ifdef BNLAB_HAVE_PLOT
// A file-name-safe form of a run label: "no BN, lr 3" -> "no-bn-lr-3".
QString slug(const QString& label) {
    QString out;
    for (const QChar c : label.toLower()) out += c.isLetterOrNumber() || c == '.' ? c : QChar('-');
    while (out.contains("--")) out.replace("--", "-");
    return out.remove(QRegularExpression("^-|-$"));
}

void writeText(const QString& path, const QString& text) {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text) || f.write(text.toUtf8()) < 0)
        throw Error((path + ": cannot write (" + f.errorString() + ")").toStdString());
}

int experiment(const QStringList& args) {
    QString name, outDir, dataDir;
    QStringList overrides;
    bool quick = false, quiet = false;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        auto value = [&]() -> QString {
            if (i + 1 >= args.size()) throw UsageError("experiment: " + a.toStdString() + " needs a value");
            return args[++i];
        };
        if (a == "--help" || a == "-h") {
            std::fputs(kExperimentUsage, stdout);
            return 0;
        } else if (a == "--out") outDir = value();
        else if (a == "--data") dataDir = value();
        else if (a == "--set") overrides << value();
        else if (a == "--quick") quick = true;
        else if (a == "--quiet") quiet = true;
        else if (!a.startsWith("-") && name.isEmpty()) name = a;
        else throw UsageError("experiment: unknown option '" + a.toStdString() + "' (bnlab-cli experiment --help)");
    }
    if (name.isEmpty()) throw UsageError("experiment: NAME is required (bnlab-cli experiments lists them)");
    if (outDir.isEmpty()) throw UsageError("experiment: --out DIR is required");
    const Experiment& e = findExperiment(name);
    const std::vector<RunConfig> configs = experimentConfigs(e, quick, overrides);
    dataDir = datasetFolder(dataDir);
    const engine::Dataset data = engine::loadDataset(dataDir.toStdString());
    for (std::size_t i = 0; i < configs.size(); ++i) {  // every run is checked before anything trains
        try {
            engine::validate(configs[i].train, data);
        } catch (const std::exception& ex) {
            throw Error("run '" + e.runs[i].label.toStdString() + "': " + ex.what());
        }
    }
    if (QDir(outDir).exists("runs")) throw Error(outDir.toStdString() + ": holds an experiment already (runs/); choose another --out");
    if (!QDir().mkpath(outDir + "/runs")) throw Error(outDir.toStdString() + ": cannot create the folder");

    std::vector<RunData> runs;
    for (std::size_t i = 0; i < configs.size(); ++i) {
        const QString folder = QString("%1/runs/%2-%3").arg(outDir).arg(i + 1, 2, 10, QChar('0')).arg(slug(e.runs[i].label));
        if (!quiet) std::fprintf(stderr, "bnlab-cli: %s, run %zu of %zu: %s\n", e.name.toUtf8().constData(), i + 1,
                                 configs.size(), e.runs[i].label.toUtf8().constData());
        const engine::RunSummary s = trainInto(configs[i], data, dataDir, folder, quiet);
        if (s.reason == engine::StopReason::Stopped) return 130;
        runs.push_back(loadRun(folder));
        runs.back().name = e.runs[i].label;
    }
    writeText(outDir + "/summary.csv", experimentSummaryCsv(e, runs));

    QString readme = "# " + e.title + "\n\n`bnlab-cli experiment " + e.name + (quick ? " --quick" : "") + "`" +
                     (overrides.isEmpty() ? QString() : " with `--set " + overrides.join("` `--set ") + "`") +
                     " on " + QString::fromStdString(data.name) + ".\n\n**The claim.** " + e.claim +
                     "\n\n**What to look for.** " + e.lookFor + "\n\n**Try next.** " + e.tryNext + "\n\n";
    for (const ExperimentFigure& f : e.figures) {
        std::vector<RunData> drawn;
        for (const RunData& r : runs)
            if (f.runs.isEmpty() || f.runs.contains(r.name)) drawn.push_back(r);
        ui::ChartRequest request;
        request.chart = f.chart;
        request.layer = f.layer;
        request.postActivation = f.post;
        if (!ui::xAxisFromName(f.x, request.xAxis)) throw Error("figure " + f.file.toStdString() + ": bad x axis");
        const QSize size(1000, f.chart == "activations" ? 330 : 420);
        // Each run in its colour under its label, which says what it changes.
        std::vector<ui::ComparedRun> compared;
        for (std::size_t k = 0; k < drawn.size(); ++k)
            compared.push_back({&drawn[k], ui::palette::category(int(k)), drawn[k].name});
        std::unique_ptr<QWidget> chart = drawn.size() > 1 ? ui::makeComparison(request, compared, size)
                                                          : ui::makeChart(request, drawn.front(), size);
        const QString title = e.title + " — " + f.file;
        ui::exportWidget(chart.get(), title, outDir + "/" + f.file + ".png", 1.5);
        ui::exportWidget(chart.get(), title, outDir + "/" + f.file + ".svg");
        readme += "![" + f.file + "](" + f.file + ".png)\n\n";
    }
    readme += "Runs (`runs/`, open them with `bnlab --open` or File › Open Run) and final numbers: `summary.csv`.\n";
    writeText(outDir + "/README.md", readme);
    std::printf("%s\n", outDir.toUtf8().constData());
    return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    app::returnLargeBlocksToTheSystem();
    // plot draws widgets: a QApplication, on the offscreen platform when there is no display.
    const bool plotting = argc > 1 && (std::string(argv[1]) == "plot" || std::string(argv[1]) == "experiment");
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
            else if (args.first() == "experiment" || args.first() == "experiments") std::fputs(kExperimentUsage, stdout);
            else if (args.first() == "presets") std::puts("usage: bnlab-cli presets\nLists the built-in presets with a one-line description each.");
            else throw UsageError("help: unknown command '" + args.first().toStdString() + "'");
            return 0;
        }
        if (command == "presets") return listPresets();
        if (command == "experiments") return listExperiments();
        if (command == "experiment") {
#ifdef BNLAB_HAVE_PLOT
            return experiment(args);
#else
            throw Error("experiment: this bnlab-cli was built without the charts (BNLAB_BUILD_GUI=OFF)");
#endif
        }
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
