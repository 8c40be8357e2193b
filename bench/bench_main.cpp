// bnlab-bench: steady-state training and inference throughput of the presets, the GFLOP/s they reach
// against a GEMM measured in the same run, and peak resident memory. Speed is measured here, never
// asserted in tests.
//
//   bnlab-bench [--preset NAME]... [--batch N]... [--threads N]... [--seconds S] [--repeats R]
//               [--mode train|infer|both] [--data DIR] [--json] [--quick] [--in-process] [--profile]
//
// Defaults: every preset, batches 8 32 60 128, 1 and 2 threads, train and infer, 1 s × 3 repeats.
// --quick: each preset at its own batch size, 0.3 s × 3 repeats.
//
// Each configuration runs in a child process (this program with --in-process), so that its peak
// resident memory (VmHWM) is its own; --in-process measures everything in this process instead (the
// memory column is then the process's peak so far). A configuration trains (or infers) on one fixed
// batch of real MNIST images, after 3 warm-up steps; the data pipeline is measured by bnlab-cli.
//
// GFLOP/s counts the multiply-adds of the Dense and Conv2D products only (2 FLOPs each): forward, and in
// training also the weight gradient and the input gradient (not for the first layer, whose input
// gradient is never computed). BN, activations, pooling, the loss and the optimizer are not counted.
// The GEMM is engine/gemm.h's kernel on 1024³ floats, one independent product per thread.
//
// --profile (in-process) also prints, per preset and batch, where a training step spends its time: each
// layer's forward and backward, the loss and the optimizer (milliseconds per step, median over the steps).

#include "allocation.h"
#include "batch_sampler.h"
#include "data_location.h"
#include "dataset.h"
#include "error.h"
#include "gemm.h"
#include "parallel.h"
#include "presets.h"
#include "trainer.h"

#include <QCoreApplication>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>

namespace {

using namespace bnlab;
using namespace bnlab::engine;
using Clock = std::chrono::steady_clock;

struct Options {
    QStringList presets;
    std::vector<int> batches;  // empty with --quick: each preset's own
    std::vector<int> threads;
    double seconds = 1.0;
    int repeats = 3;
    bool train = true, infer = true;
    bool json = false;
    bool quick = false;
    bool inProcess = false;
    bool gemm = true;
    bool profile = false;
    QString data;
};

// One measurement: a preset at a batch size and thread count, training or inference.
struct Config {
    QString preset;
    int batch = 0;
    int threads = 1;
    bool train = true;
    [[nodiscard]] const char* mode() const { return train ? "train" : "infer"; }
};

struct Stats {
    double min = 0, median = 0, max = 0;
};

Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v.front(), v[v.size() / 2], v.back()};
}

// Runs `step` (which processes `batch` samples) for about `seconds`, after a warm-up; returns samples/s.
template <typename Step>
double measure(Step&& step, int batch, double seconds) {
    for (int i = 0; i < 3; ++i) step();  // warm-up: buffers sized, caches warm
    const auto t0 = Clock::now();
    long steps = 0;
    double elapsed = 0;
    while (elapsed < seconds || steps < 3) {
        step();
        ++steps;
        elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return double(steps) * batch / elapsed;
}

const char* kUsage =
    "usage: bnlab-bench [--preset NAME]... [--batch N]... [--threads N]... [--seconds S] [--repeats R]\n"
    "                   [--mode train|infer|both] [--data DIR] [--json] [--quick] [--in-process] [--profile]\n"
    "defaults: every preset, batches 8 32 60 128, 1 and 2 threads, train and infer, 1 s x 3 repeats;\n"
    "--quick: each preset at its own batch size, 0.3 s x 3; each configuration in a child process\n"
    "(its own peak memory) unless --in-process";

Options parse(const QStringList& args) {
    Options o;
    bool secondsSet = false;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        auto value = [&]() -> QString {
            if (i + 1 >= args.size()) throw Error(a.toStdString() + " needs a value");
            return args[++i];
        };
        auto number = [&](const QString& v) {
            bool ok = false;
            const double d = v.toDouble(&ok);
            if (!ok || d <= 0) throw Error(a.toStdString() + ": expected a positive number, got '" + v.toStdString() + "'");
            return d;
        };
        if (a == "--preset") o.presets << value();
        else if (a == "--batch") o.batches.push_back(int(number(value())));
        else if (a == "--threads") o.threads.push_back(int(number(value())));
        else if (a == "--seconds") o.seconds = number(value()), secondsSet = true;
        else if (a == "--repeats") o.repeats = int(number(value()));
        else if (a == "--data") o.data = value();
        else if (a == "--json") o.json = true;
        else if (a == "--quick") o.quick = true;
        else if (a == "--in-process") o.inProcess = true;
        else if (a == "--no-gemm") o.gemm = false;  // for the child processes: the parent measures it
        else if (a == "--profile") o.profile = o.inProcess = true;
        else if (a == "--mode") {
            const QString m = value();
            if (m != "train" && m != "infer" && m != "both") throw Error("--mode: expected train, infer or both");
            o.train = m != "infer";
            o.infer = m != "train";
        } else if (a == "--help" || a == "-h") {
            std::puts(kUsage);
            std::exit(0);
        } else throw Error("unknown option '" + a.toStdString() + "' (bnlab-bench --help)");
    }
    if (o.presets.isEmpty())
        for (const app::Preset& p : app::presets()) o.presets << p.name;
    for (const QString& p : o.presets) (void)app::findPreset(p);  // unknown names fail before any work
    if (o.batches.empty() && !o.quick) o.batches = {8, 32, 60, 128};
    if (o.threads.empty()) o.threads = {1, 2};
    if (o.quick && !secondsSet) o.seconds = 0.3;
    return o;
}

std::vector<Config> configurations(const Options& o) {
    std::vector<Config> all;
    for (int threads : o.threads)
        for (const QString& name : o.presets) {
            const std::vector<int> batches =
                o.batches.empty() ? std::vector<int>{int(app::findPreset(name).config.train.batchSize)} : o.batches;
            for (int batch : batches) {
                if (o.train) all.push_back({name, batch, threads, true});
                if (o.infer) all.push_back({name, batch, threads, false});
            }
        }
    return all;
}

// Peak resident memory of this process so far (VmHWM in /proc/self/status), in MB; 0 where there is none.
double peakMemoryMb() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return 0;
}

// FLOPs per sample of the Dense and Conv2D products (see the header comment).
struct Flops {
    double forward = 0, train = 0;
};

Flops flopsPerSample(Network& net) {
    Flops f;
    for (std::size_t i = 0; i < net.layers().size(); ++i) {
        Layer& layer = net.layer(int(i));
        const std::string kind = layer.kind();
        if (kind != "dense" && kind != "conv2d") continue;
        const Shape out = layer.outputShape();
        const double positions = kind == "conv2d" ? double(out.h) * out.w : 1.0;
        const double product = 2.0 * double(layer.params().front().value->size()) * positions;  // weight (F, K)
        f.forward += product;
        f.train += product * (i == 0 ? 2 : 3);  // forward, dW, and dx but for the first layer
    }
    return f;
}

// GFLOP/s of engine/gemm.h on n³ floats with `threads` threads, each multiplying its own product.
double gemmGflops(int threads, Index n, double seconds) {
    Matrix a = Matrix::Random(n, n), b = Matrix::Random(n, n);
    std::vector<Matrix> c(std::size_t(threads), Matrix(n, n));
    double products = 0;
    parallel::runWithThreads(threads, [&] {
        products = measure(
            [&] {
                parallel::forChunks(threads, 1, [&](std::ptrdiff_t begin, std::ptrdiff_t end) {
                    for (std::ptrdiff_t i = begin; i < end; ++i)
                        gemm::multiply(n, n, n, gemm::plain(a.data(), n), gemm::plain(b.data(), n),
                                       c[std::size_t(i)].data(), n, false);
                });
            },
            threads, seconds);
    });
    return 2.0 * double(n) * double(n) * double(n) * products / 1e9;
}

// A training step taken layer by layer (as Network::forward/backward and trainStep do, a ReLU left to the BN after
// it included, but out of place), timing each part.
// Prints the median milliseconds per step of every part over `steps` steps.
void profileStep(Network& net, SoftmaxCrossEntropy& ce, Optimizer& optimizer, const Matrix& x,
                 const std::vector<std::uint8_t>& labels, int steps) {
    const std::size_t layers = net.layers().size();
    // parts: forward of each layer, loss, backward of each layer (in network order), optimizer
    std::vector<std::vector<double>> ms(2 * layers + 2);
    auto lap = [](Clock::time_point& t) {
        const auto now = Clock::now();
        const double d = std::chrono::duration<double, std::milli>(now - t).count();
        t = now;
        return d;
    };
    for (int s = 0; s < steps + 2; ++s) {
        const bool keep = s >= 2;  // two warm-up steps
        auto t = Clock::now();
        const Matrix* h = &x;
        std::vector<const Matrix*> inputs(layers);
        for (std::size_t i = 0; i < layers; ++i) {
            if (net.leavesToNextLayer(int(i))) {  // this ReLU's time is in the BN's
                static_cast<Activation&>(net.layer(int(i))).leaveToNextLayer();
                h = &static_cast<BatchNorm&>(net.layer(int(i) + 1)).forwardAfterRelu(*h, Mode::Train);
                const double d = lap(t);
                if (keep) {
                    ms[i].push_back(0);
                    ms[i + 1].push_back(d);
                }
                ++i;
                continue;
            }
            h = &net.layer(int(i)).forward(*h, Mode::Train);
            const double d = lap(t);
            if (keep) ms[i].push_back(d);
        }
        ce.forward(*h, labels);
        const Matrix* g = &ce.backward();
        if (keep) ms[layers].push_back(lap(t)); else lap(t);
        for (std::size_t i = layers; i-- > 0;) {
            if (net.leavesToNextLayer(int(i))) {
                if (keep) ms[layers + 1 + i].push_back(0);
                continue;
            }
            if (i > 0) g = &net.layer(int(i)).backward(*g);
            else net.layer(0).backwardParameters(*g);
            const double d = lap(t);
            if (keep) ms[layers + 1 + i].push_back(d);
        }
        optimizer.step();
        if (keep) ms[2 * layers + 1].push_back(lap(t));
    }
    double total = 0;
    std::vector<double> median(ms.size());
    for (std::size_t i = 0; i < ms.size(); ++i) total += median[i] = stats(ms[i]).median;
    auto row = [&](const std::string& name, double forward, double backward) {
        std::printf("  %-22s %9.3f %9.3f %6.1f%%\n", name.c_str(), forward, backward, 100 * (forward + backward) / total);
    };
    std::printf("  %-22s %9s %9s %7s\n", "part (ms/step)", "forward", "backward", "share");
    for (std::size_t i = 0; i < layers; ++i)
        row(net.layerName(int(i)) + " (" + net.layer(int(i)).kind() + ")", median[i], median[layers + 1 + i]);
    row("loss", median[layers], 0);
    row("optimizer", 0, median[2 * layers + 1]);
    std::printf("  %-22s %19.3f\n", "total", total);
}

// Measures one configuration in this process: {preset, batch_size, threads, mode, samples_per_second
// {min, median, max}, flops_per_sample, gflops, peak_memory_mb, baseline_memory_mb}.
QJsonObject measureHere(const Options& o, const Dataset& data, const Splits& splits, const Config& c,
                        double baselineMb) {
    TrainOptions t = app::findPreset(c.preset).config.train;
    t.batchSize = c.batch;
    std::vector<double> rates;
    Flops flops;
    parallel::runWithThreads(c.threads, [&] {
        Network net(t.network, data.inputShape(), data.numClasses, t.batchNorm, t.init, t.seed);
        flops = flopsPerSample(net);
        Optimizer optimizer(t.optimizer);
        optimizer.bind(net.optimizerParams());
        SoftmaxCrossEntropy ce;
        BatchSampler sampler(splits.train, c.batch, 7);
        Matrix x;
        std::vector<std::uint8_t> labels;
        sampler.next(x, labels);  // one fixed batch: the data pipeline is measured by the trainer
        if (o.profile && c.train) {
            std::printf("%s batch %d, %d thread(s):\n", c.preset.toUtf8().constData(), c.batch, c.threads);
            profileStep(net, ce, optimizer, x, labels, std::max(5, int(o.seconds * 20)));
        }
        for (int r = 0; r < o.repeats; ++r) {
            if (c.train)
                rates.push_back(measure([&] { trainStep(net, ce, optimizer, x, labels); }, c.batch, o.seconds));
            else
                rates.push_back(measure([&] { (void)net.forward(x, Mode::Eval); }, c.batch, o.seconds));
        }
    });
    const Stats s = stats(rates);
    const double perSample = c.train ? flops.train : flops.forward;
    return {{"kind", "throughput"}, {"implementation", "bnlab"}, {"preset", c.preset}, {"batch_size", c.batch},
            {"threads", c.threads}, {"mode", c.mode()},
            {"samples_per_second", QJsonObject{{"min", s.min}, {"median", s.median}, {"max", s.max}}},
            {"flops_per_sample", perSample}, {"gflops", perSample * s.median / 1e9},
            {"peak_memory_mb", peakMemoryMb()}, {"baseline_memory_mb", baselineMb}};
}

// Measures one configuration in a child process (this program, --in-process), so that the peak memory is its own.
QJsonObject measureInChild(const Options& o, const Config& c) {
    QStringList args{"--in-process", "--no-gemm", "--json", "--preset", c.preset, "--batch", QString::number(c.batch),
                     "--threads", QString::number(c.threads), "--mode", c.mode(), "--seconds",
                     QString::number(o.seconds), "--repeats", QString::number(o.repeats)};
    if (!o.data.isEmpty()) args << "--data" << o.data;
    QProcess child;
    child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    child.start(QCoreApplication::applicationFilePath(), args);
    if (!child.waitForFinished(-1) || child.exitStatus() != QProcess::NormalExit || child.exitCode() != 0)
        throw Error("the child measuring " + c.preset.toStdString() + " batch " + std::to_string(c.batch) + " failed");
    const QJsonObject j = QJsonDocument::fromJson(child.readAllStandardOutput().trimmed()).object();
    if (j.isEmpty()) throw Error("the child measuring " + c.preset.toStdString() + " printed no result");
    return j;
}

void printRow(const QJsonObject& j, const std::map<int, double>& gemm) {
    const QJsonObject s = j["samples_per_second"].toObject();
    const int threads = j["threads"].toInt();
    const double gflops = j["gflops"].toDouble();
    const auto g = gemm.find(threads);
    std::printf("%-18s %5d %7d %5s %10.0f %10.0f %10.0f %8.1f %5s %8.0f\n", j["preset"].toString().toUtf8().constData(),
                j["batch_size"].toInt(), threads, j["mode"].toString().toUtf8().constData(), s["min"].toDouble(),
                s["median"].toDouble(), s["max"].toDouble(), gflops,
                g == gemm.end() ? "" : (std::to_string(int(100 * gflops / g->second + 0.5)) + "%").c_str(),
                j["peak_memory_mb"].toDouble());
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    app::returnLargeBlocksToTheSystem();  // as bnlab-cli, so that the memory column is comparable
    QCoreApplication qapp(argc, argv);
    try {
        const Options o = parse(QCoreApplication::arguments().mid(1));
        std::map<int, double> gemm;  // threads -> GFLOP/s
        if (o.gemm)
            for (int threads : o.threads) {
                gemm[threads] = gemmGflops(threads, 1024, o.quick ? 0.3 : 1.0);
                if (o.json)
                    std::printf("%s\n", QJsonDocument(QJsonObject{{"kind", "gemm"}, {"implementation", "bnlab"},
                                                                 {"threads", threads}, {"size", 1024},
                                                                 {"gflops", gemm[threads]}})
                                            .toJson(QJsonDocument::Compact).constData());
                else
                    std::printf("1024³ GEMM (engine/gemm.h), %d thread(s): %.1f GFLOP/s\n", threads, gemm[threads]);
            }
        if (!o.json)
            std::printf("%-18s %5s %7s %5s %10s %10s %10s %8s %5s %8s\n", "preset", "batch", "threads", "mode", "min",
                        "median", "max", "GFLOP/s", "GEMM", "peak MB");
        std::optional<Dataset> data;
        std::optional<Splits> splits;
        double baselineMb = 0;
        if (o.inProcess) {
            const QString dir = o.data.isEmpty() ? app::findBundledMnist(QCoreApplication::applicationDirPath()) : o.data;
            if (dir.isEmpty()) throw Error("the bundled MNIST was not found; use --data DIR");
            data = loadDataset(dir.toStdString());
            splits = makeSplits(*data, 5000);
            baselineMb = peakMemoryMb();
        }
        for (const Config& c : configurations(o)) {
            const QJsonObject j = o.inProcess ? measureHere(o, *data, *splits, c, baselineMb) : measureInChild(o, c);
            if (o.json) std::printf("%s\n", QJsonDocument(j).toJson(QJsonDocument::Compact).constData());
            else printRow(j, gemm);
            std::fflush(stdout);
        }
        if (!o.json)
            std::printf("samples/s over %d repeats of %.1f s; GFLOP/s of the Dense and Conv2D products at the median, "
                        "as a share of the GEMM; peak resident memory (VmHWM) %s\n",
                        o.repeats, o.seconds, o.inProcess ? "of this process so far" : "of each configuration's process");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bnlab-bench: %s\n", e.what());
        return 1;
    }
}
