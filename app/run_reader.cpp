#include "run_reader.h"

#include "error.h"
#include "run_writer.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace bnlab::app {
namespace {

using namespace bnlab::engine;

[[noreturn]] void fail(const QString& message) { throw Error(message.toStdString()); }

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

QByteArray readAll(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) fail(path + ": cannot open (" + file.errorString() + ")");
    return file.readAll();
}

QJsonObject readJson(const QString& path) {
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(readAll(path), &error);
    if (doc.isNull()) fail(path + ": not valid JSON at offset " + QString::number(error.offset) + " (" + error.errorString() + ")");
    if (!doc.isObject()) fail(path + ": the top level must be a JSON object");
    return doc.object();
}

// The complete lines of a file written line by line: a last line without its newline was cut short by an
// interruption and is left out.
QList<QByteArray> completeLines(const QString& path) {
    QByteArray data = readAll(path);
    const qsizetype end = data.lastIndexOf('\n');
    data.truncate(end + 1);
    QList<QByteArray> lines = data.split('\n');
    lines.removeLast();  // after the final newline
    return lines;
}

// null in JSON stands for NaN or infinity (JSON has neither).
double number(const QJsonValue& v, const QString& where) {
    if (v.isNull()) return kNaN;
    if (!v.isDouble()) fail(where + ": expected a number");
    return v.toDouble();
}

template <typename T>
std::vector<T> numbers(const QJsonValue& v, const QString& where) {
    if (!v.isArray()) fail(where + ": expected an array");
    std::vector<T> out;
    for (const QJsonValue& x : v.toArray()) out.push_back(T(number(x, where)));
    return out;
}

// levels: the probe line's percentile_levels. Each of kPercentiles takes the value of the same level in the
// file; a level the file does not have (TensorBoard's, in folders written before they were recorded) is NaN.
Distribution distribution(const QJsonValue& v, const QString& where, const std::vector<float>& levels) {
    if (!v.isObject()) fail(where + ": expected an object");
    const QJsonObject o = v.toObject();
    Distribution d;
    const auto pct = numbers<float>(o.value("percentiles"), where + ".percentiles");
    if (pct.size() != levels.size())
        fail(where + ".percentiles: expected " + QString::number(levels.size()) + " values (percentile_levels has " +
             QString::number(levels.size()) + ")");
    for (std::size_t k = 0; k < kPercentiles.size(); ++k) {
        const auto it = std::find_if(levels.begin(), levels.end(), [&](float l) { return std::abs(l - kPercentiles[k]) < 1e-3f; });
        d.percentiles[k] = it == levels.end() ? std::numeric_limits<float>::quiet_NaN() : pct[std::size_t(it - levels.begin())];
    }
    d.mean = number(o.value("mean"), where + ".mean");
    d.stddev = number(o.value("std"), where + ".std");
    d.histogramMin = float(number(o.value("hist_min"), where + ".hist_min"));
    d.histogramMax = float(number(o.value("hist_max"), where + ".hist_max"));
    d.histogram = numbers<std::uint32_t>(o.value("histogram"), where + ".histogram");
    d.count = std::int64_t(number(o.value("count"), where + ".count"));
    return d;
}

ProbeSnapshot probe(const QJsonObject& o, const QString& where) {
    ProbeSnapshot p;
    p.step = long(number(o.value("step"), where + ": step"));
    p.epoch = number(o.value("epoch"), where + ": epoch");
    p.samples = std::int64_t(number(o.value("samples"), where + ": samples"));
    // Folders written before probes had their time: taken from the step record afterwards.
    p.seconds = o.contains("seconds") ? number(o.value("seconds"), where + ": seconds") : std::nan("");
    // The levels the percentiles are at (written in every line; folders from before TensorBoard's levels have the
    // first seven levels BN Lab recorded).
    const std::vector<float> levels = o.contains("percentile_levels")
                                          ? numbers<float>(o.value("percentile_levels"), where + ": percentile_levels")
                                          : std::vector<float>{0, 2, 15, 50, 85, 98, 100};
    for (const QJsonValue& a : o.value("activations").toArray()) {
        const QJsonObject ao = a.toObject();
        p.activations.push_back({ao.value("block").toString().toStdString(),
                                 distribution(ao.value("pre"), where + ": pre", levels),
                                 distribution(ao.value("post"), where + ": post", levels)});
    }
    for (const QJsonValue& q : o.value("params").toArray()) {
        const QJsonObject qo = q.toObject();
        p.params.push_back({qo.value("name").toString().toStdString(), number(qo.value("grad_norm"), where + ": grad_norm"),
                            number(qo.value("weight_norm"), where + ": weight_norm"),
                            number(qo.value("update_ratio"), where + ": update_ratio")});
    }
    for (const QJsonValue& b : o.value("batchnorm").toArray()) {
        const QJsonObject bo = b.toObject();
        BatchNormProbe bn;
        bn.layer = bo.value("layer").toString().toStdString();
        bn.features = numbers<int>(bo.value("features"), where + ": features");
        bn.batchMean = numbers<float>(bo.value("batch_mean"), where + ": batch_mean");
        bn.batchVar = numbers<float>(bo.value("batch_var"), where + ": batch_var");
        bn.runningMean = numbers<float>(bo.value("running_mean"), where + ": running_mean");
        bn.runningVar = numbers<float>(bo.value("running_var"), where + ": running_var");
        p.batchNorm.push_back(std::move(bn));
    }
    return p;
}

LandscapeRecord landscapeRecord(const QJsonObject& o, const QString& where) {
    LandscapeRecord l;
    l.step = long(number(o.value("step"), where + ": step"));
    l.epoch = number(o.value("epoch"), where + ": epoch");
    l.samples = std::int64_t(number(o.value("samples"), where + ": samples"));
    l.seconds = number(o.value("seconds"), where + ": seconds");
    l.learningRate = number(o.value("learning_rate"), where + ": learning_rate");
    l.loss = number(o.value("loss"), where + ": loss");
    l.gradNorm = number(o.value("grad_norm"), where + ": grad_norm");
    l.stepSizes = numbers<double>(o.value("step_sizes"), where + ": step_sizes");
    l.losses = numbers<double>(o.value("losses"), where + ": losses");
    l.gradChanges = numbers<double>(o.value("grad_changes"), where + ": grad_changes");
    if (l.losses.size() != l.stepSizes.size() || l.gradChanges.size() != l.stepSizes.size())
        fail(where + ": step_sizes, losses and grad_changes must have the same length");
    l.lossMin = number(o.value("loss_min"), where + ": loss_min");
    l.lossMax = number(o.value("loss_max"), where + ": loss_max");
    l.predictiveness = number(o.value("predictiveness"), where + ": predictiveness");
    l.betaSmoothness = number(o.value("beta_smoothness"), where + ": beta_smoothness");
    if (!o.value("layers").isArray()) fail(where + ": layers: expected an array");
    for (const QJsonValue& v : o.value("layers").toArray()) {
        const QJsonObject s = v.toObject();
        if (!s.value("layer").isString()) fail(where + ": layers: each needs a \"layer\" name");
        l.layers.push_back({s.value("layer").toString().toStdString(), number(s.value("distance"), where + ": distance"),
                            number(s.value("cosine"), where + ": cosine"), number(s.value("grad_norm"), where + ": grad_norm")});
    }
    return l;
}

// A whole number in [lo, hi] (counts, classes, labels); fails naming where otherwise.
std::int64_t whole(const QJsonValue& v, double lo, double hi, const QString& where) {
    const double d = number(v, where);
    if (!(d >= lo && d <= hi) || d != std::floor(d))
        fail(where + ": expected a whole number from " + QString::number(lo, 'g', 17) + " to " + QString::number(hi, 'g', 17) +
             (v.isDouble() ? ", got " + QString::number(d, 'g', 17) : QString(", got ") + (v.isUndefined() ? "nothing" : "no number")));
    return std::int64_t(d);
}

// What a confusion.jsonl line and a predictions file say about their evaluation (counts stay empty).
ConfusionRecord evaluationOf(const QJsonObject& o, const QString& where) {
    ConfusionRecord c;
    c.step = long(whole(o.value("step"), 0, 1e15, where + ": step"));
    c.epoch = number(o.value("epoch"), where + ": epoch");
    c.samples = whole(o.value("samples"), 0, 1e18, where + ": samples");
    c.seconds = number(o.value("seconds"), where + ": seconds");
    c.split = o.value("split").toString().toStdString();
    if (c.split != "validation" && c.split != "test")
        fail(where + ": split: expected \"validation\" or \"test\", got '" + o.value("split").toString() + "'");
    c.classes = int(whole(o.value("classes"), 1, 256, where + ": classes"));
    return c;
}

ConfusionRecord confusion(const QJsonObject& o, const QString& where) {
    ConfusionRecord c = evaluationOf(o, where);
    const QJsonArray rows = o.value("counts").toArray();
    if (rows.size() != c.classes) fail(where + ": counts: expected " + QString::number(c.classes) + " rows (one per true class)");
    for (const QJsonValue& row : rows) {
        if (!row.isArray() || row.toArray().size() != c.classes)
            fail(where + ": counts: expected rows of " + QString::number(c.classes) + " counts");
        for (const QJsonValue& v : row.toArray()) c.counts.push_back(whole(v, 0, 1e15, where + ": counts"));
    }
    return c;
}

// A predictions-SPLIT.json file (RunWriter); its confusion matrix is counted from its labels and predictions.
PredictionRecord predictionsFile(const QString& path, const std::string& split) {
    const QJsonObject o = readJson(path);
    if (o.value("format").toString() != "bnlab-predictions") fail(path + ": \"format\" is not \"bnlab-predictions\"");
    if (o.value("version").toInt() != 1)
        fail(path + ": version " + QString::number(o.value("version").toDouble()) + " is not supported (this BN Lab reads 1)");
    PredictionRecord p;
    p.confusion = evaluationOf(o, path);
    if (p.confusion.split != split) fail(path + ": split: expected \"" + QString::fromStdString(split) + "\" as its name says");
    const int classes = p.confusion.classes;
    SamplePredictions& s = p.predictions;
    s.classes = classes;
    s.firstImage = Index(whole(o.value("first_image"), 0, 1e12, path + ": first_image"));
    const QJsonArray labels = o.value("labels").toArray(), predicted = o.value("predicted").toArray(),
                     probabilities = o.value("probabilities_e4").toArray();
    if (predicted.size() != labels.size() || probabilities.size() != labels.size())
        fail(path + ": labels, predicted and probabilities_e4 must have one entry per sample (" + QString::number(labels.size()) +
             ", " + QString::number(predicted.size()) + ", " + QString::number(probabilities.size()) + ")");
    p.confusion.counts.assign(std::size_t(classes) * std::size_t(classes), 0);
    s.probabilities.reserve(std::size_t(labels.size()) * std::size_t(classes));
    for (qsizetype i = 0; i < labels.size(); ++i) {
        const QString where = path + ": sample " + QString::number(i);
        s.labels.push_back(std::uint8_t(whole(labels[i], 0, classes - 1, where + ": label")));
        s.predicted.push_back(std::uint8_t(whole(predicted[i], 0, classes - 1, where + ": predicted")));
        ++p.confusion.counts[std::size_t(s.labels.back()) * std::size_t(classes) + s.predicted.back()];
        const QJsonArray row = probabilities[i].toArray();
        if (row.size() != classes) fail(where + ": expected " + QString::number(classes) + " probabilities");
        for (const QJsonValue& v : row)
            s.probabilities.push_back(float(double(whole(v, 0, kProbabilityScale, where + ": probability_e4")) / kProbabilityScale));
    }
    return p;
}

// Splits a CSV line of `fields` fields; fails naming the file and line otherwise.
QList<QByteArray> fieldsOf(const QByteArray& line, qsizetype fields, const QString& where) {
    const QList<QByteArray> f = line.split(',');
    if (f.size() != fields)
        fail(where + ": expected " + QString::number(fields) + " comma-separated fields, found " + QString::number(f.size()));
    return f;
}

double field(const QByteArray& text, const QString& where) {
    bool ok = false;
    const double v = text.trimmed().toDouble(&ok);
    if (ok) return v;
    const QByteArray t = text.trimmed().toLower();  // as std::ostream writes them
    if (t == "nan" || t == "-nan") return kNaN;
    if (t == "inf") return std::numeric_limits<double>::infinity();
    if (t == "-inf") return -std::numeric_limits<double>::infinity();
    fail(where + ": '" + QString::fromUtf8(text) + "' is not a number");
}

StopReason reasonFrom(const QString& s, const QString& where) {
    for (StopReason r : {StopReason::Completed, StopReason::MaxSteps, StopReason::Stopped, StopReason::Diverged})
        if (s.toStdString() == toString(r)) return r;
    fail(where + ": unknown stopped_reason '" + s + "'");
}

}  // namespace

RunData loadRun(const QString& folder) {
    const QDir dir(folder);
    if (!QFileInfo(folder).isDir()) fail(folder + ": not a folder");
    if (!dir.exists("config.json"))
        fail(folder + ": not a BN Lab run (no config.json; a run folder holds config.json, steps.csv, evals.csv, ...)");
    RunData run;
    run.name = QFileInfo(folder).fileName();
    const QJsonObject configJson = readJson(dir.filePath("config.json"));
    run.config = fromJson(configJson, dir.filePath("config.json"));
    run.current = run.config;
    run.dataset = QFileInfo(configJson.value("dataset").toString()).fileName();

    if (dir.exists("run_info.json")) {
        const QString path = dir.filePath("run_info.json");
        const QJsonObject o = readJson(path);
        if (o.value("format").toString() != "bnlab-run-info") fail(path + ": \"format\" is not \"bnlab-run-info\"");
        auto names = [&](const char* key) {
            std::vector<std::string> out;
            for (const QJsonValue& v : o.value(key).toArray()) out.push_back(v.toString().toStdString());
            return out;
        };
        run.info.layers = names("layers");
        run.info.blocks = names("blocks");
        run.info.params = names("params");
        run.info.trainSamples = Index(o.value("train_samples").toDouble());
        run.info.validationSamples = Index(o.value("validation_samples").toDouble());
        run.info.testSamples = Index(o.value("test_samples").toDouble());
        run.info.stepsPerEpoch = Index(o.value("steps_per_epoch").toDouble());
        run.info.totalSteps = long(o.value("total_steps").toDouble());
        run.info.threads = o.value("threads").toInt();
    }

    auto csv = [&](const char* name, qsizetype fields, const std::function<void(const QList<QByteArray>&, const QString&)>& row) {
        const QString path = dir.filePath(name);
        if (!dir.exists(name)) fail(path + ": missing (every run folder has it, even an interrupted one)");
        const QList<QByteArray> lines = completeLines(path);
        for (qsizetype i = 1; i < lines.size(); ++i) {  // line 1 is the header
            if (lines[i].trimmed().isEmpty()) continue;
            const QString where = path + " line " + QString::number(i + 1);
            row(fieldsOf(lines[i], fields, where), where);
        }
    };
    csv("steps.csv", 8, [&](const QList<QByteArray>& f, const QString& w) {
        run.steps.push_back({long(field(f[0], w)), field(f[1], w), std::int64_t(field(f[2], w)), field(f[3], w),
                             field(f[4], w), field(f[5], w), field(f[6], w), field(f[7], w)});
    });
    csv("evals.csv", 8, [&](const QList<QByteArray>& f, const QString& w) {
        run.evals.push_back({long(field(f[0], w)), field(f[1], w), std::int64_t(field(f[2], w)), field(f[3], w),
                             f[4].trimmed().toStdString(), field(f[5], w), field(f[6], w), field(f[7], w) != 0});
    });
    // Folders written before confusion matrices existed have no confusion.jsonl and no predictions files; runs
    // without landscape_interval (and older ones) have no landscape.jsonl.
    for (const char* name : {"probes.jsonl", "changes.jsonl", "landscape.jsonl", "confusion.jsonl"}) {
        const QString path = dir.filePath(name);
        if (!dir.exists(name)) {
            if (QString(name) == "probes.jsonl") fail(path + ": missing (every run folder has it, even an interrupted one)");
            continue;
        }
        const QList<QByteArray> lines = completeLines(path);
        for (qsizetype i = 0; i < lines.size(); ++i) {
            if (lines[i].trimmed().isEmpty()) continue;
            const QString where = path + " line " + QString::number(i + 1);
            QJsonParseError error;
            const QJsonDocument doc = QJsonDocument::fromJson(lines[i], &error);
            if (!doc.isObject()) fail(where + ": not a JSON object (" + error.errorString() + ")");
            const QJsonObject o = doc.object();
            if (QString(name) == "probes.jsonl") {
                run.probes.push_back(probe(o, where));
                continue;
            }
            if (QString(name) == "landscape.jsonl") {
                run.landscape.push_back(landscapeRecord(o, where));
                continue;
            }
            if (QString(name) == "confusion.jsonl") {
                run.confusions.push_back(confusion(o, where));
                continue;
            }
            ChangeRecord c;
            c.step = long(number(o.value("step"), where + ": step"));
            c.epoch = number(o.value("epoch"), where + ": epoch");
            c.samples = std::int64_t(number(o.value("samples"), where + ": samples"));
            c.seconds = number(o.value("seconds"), where + ": seconds");
            c.key = o.value("key").toString().toStdString();
            c.value = o.value("value").toString().toStdString();
            c.description = o.value("description").toString().toStdString();
            c.applied = o.value("applied").toBool();
            if (c.applied) {
                try {
                    applySetting(run.current, QString::fromStdString(c.key), QString::fromStdString(c.value));
                } catch (const std::exception& e) {
                    fail(where + ": " + QString::fromUtf8(e.what()));
                }
            }
            run.changes.push_back(std::move(c));
        }
    }

    for (const std::string split : {"validation", "test"}) {
        const QString name = QString::fromStdString("predictions-" + split + ".json");
        if (!dir.exists(name)) continue;
        PredictionRecord p = predictionsFile(dir.filePath(name), split);
        (split == "test" ? run.testPredictions : run.validationPredictions) = std::move(p);
    }

    for (ProbeSnapshot& p : run.probes) {
        if (!std::isnan(p.seconds)) continue;
        const auto at = std::lower_bound(run.steps.begin(), run.steps.end(), p.step,
                                         [](const StepRecord& r, long step) { return r.step < step; });
        p.seconds = at != run.steps.end() ? at->seconds : run.steps.empty() ? 0.0 : run.steps.back().seconds;
    }

    if (dir.exists("summary.json")) {
        const QString path = dir.filePath("summary.json");
        const QJsonObject o = readJson(path);
        if (o.value("format").toString() != "bnlab-summary") fail(path + ": \"format\" is not \"bnlab-summary\"");
        RunSummary s;
        s.reason = reasonFrom(o.value("stopped_reason").toString(), path);
        s.message = o.value("message").toString().toStdString();
        s.steps = long(o.value("steps").toDouble());
        s.epochs = o.value("epochs").toDouble();
        s.samples = std::int64_t(o.value("samples").toDouble());
        s.seconds = o.value("seconds").toDouble();
        s.trainingSeconds = o.value("training_seconds").toDouble();
        s.samplesPerSecond = o.value("samples_per_second").toDouble();
        s.probes = long(o.value("probes").toDouble());  // 0 in folders written before they were counted
        s.probeSeconds = o.value("probe_seconds").toDouble();
        s.sessionTrainingSeconds = o.value("session_training_seconds").toDouble();
        s.hasValidation = o.value("val_accuracy").isDouble();
        s.valAccuracy = o.value("val_accuracy").toDouble();
        s.valLoss = number(o.value("val_loss"), path + ": val_loss");
        s.hasTest = o.value("test_accuracy").isDouble();
        s.testAccuracy = o.value("test_accuracy").toDouble();
        s.testLoss = number(o.value("test_loss"), path + ": test_loss");
        s.divergedStep = long(o.value("diverged_step").toDouble());
        s.divergedLayer = o.value("diverged_layer").toString().toStdString();
        run.samplesPerSecond = s.samplesPerSecond;
        run.summary = std::move(s);
    }
    run.state = RunState::Finished;
    return run;
}

}  // namespace bnlab::app
