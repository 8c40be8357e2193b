// bnlab-cli: the headless trainer. `bnlab-cli --help` lists the commands.

#include "cli_progress.h"
#include "data_location.h"
#include "dataset.h"
#include "error.h"
#include "presets.h"
#include "run_writer.h"
#include "trainer.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>

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
    "  help [COMMAND]          show this text or a command's\n";

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
    QCoreApplication app(argc, argv);
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
            else if (args.first() == "presets") std::puts("usage: bnlab-cli presets\nLists the built-in presets with a one-line description each.");
            else throw UsageError("help: unknown command '" + args.first().toStdString() + "'");
            return 0;
        }
        if (command == "presets") return listPresets();
        if (command == "train") return train(args);
        throw UsageError("unknown command '" + command.toStdString() + "'");
    } catch (const UsageError& e) {
        std::fprintf(stderr, "bnlab-cli: %s\n\n%s", e.what(), kUsage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bnlab-cli: %s\n", e.what());
        return 1;
    }
}
