#include "run_writer.h"

#include "error.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string_view>
#include <type_traits>

namespace bnlab::app {
namespace {

using namespace bnlab::engine;

[[noreturn]] void fail(const QString& message) { throw Error(message.toStdString()); }

void writeJsonFile(const QString& path, const QJsonObject& o) {
    QSaveFile file(path);  // written to a temporary file and renamed: never half a file
    if (!file.open(QIODevice::WriteOnly)) fail(path + ": cannot write (" + file.errorString() + ")");
    file.write(QJsonDocument(o).toJson(QJsonDocument::Indented));
    if (!file.commit()) fail(path + ": cannot write (" + file.errorString() + ")");
}

// JSON has no NaN or infinity: those become null.
QJsonValue number(double v) { return std::isfinite(v) ? QJsonValue(v) : QJsonValue(); }

template <typename T>
QJsonArray array(const std::vector<T>& v) {
    QJsonArray a;
    for (const T& x : v) a.append(number(double(x)));
    return a;
}

// A probe snapshot as one line of compact JSON, written directly: building it as a QJsonObject took 0.4 ms per
// snapshot on the training thread, a fifth of a probe of the BN-paper MLP. The keys in the order QJsonDocument
// writes them (sorted), numbers as the shortest text that reads back to the same value (floats as floats),
// NaN and infinities as null (JSON has neither).
class JsonLine {
public:
    explicit JsonLine(std::string& out) : m_out(out) {}
    JsonLine& key(std::string_view k) {
        separate();
        text(k);
        m_out += ':';
        m_first = true;  // the value that follows needs no comma
        return *this;
    }
    JsonLine& open(char bracket) {
        separate();
        m_out += bracket;
        m_first = true;
        return *this;
    }
    JsonLine& close(char bracket) {
        m_out += bracket;
        m_first = false;
        return *this;
    }
    template <typename T>
    JsonLine& value(T v) {
        separate();
        if constexpr (std::is_floating_point_v<T>) {
            if (!std::isfinite(v)) {
                m_out += "null";
                m_first = false;
                return *this;
            }
        }
        char buffer[64];
        const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;
        m_out.append(buffer, end);
        m_first = false;
        return *this;
    }
    JsonLine& value(const std::string& s) {
        separate();
        text(s);
        m_first = false;
        return *this;
    }
    template <typename T>
    JsonLine& values(const T& range) {
        open('[');
        for (const auto& v : range) value(v);
        return close(']');
    }

private:
    void separate() {
        if (!m_first) m_out += ',';
        m_first = false;
    }
    void text(std::string_view s) {
        m_out += '"';
        for (char c : s) {
            if (c == '"' || c == '\\') {
                m_out += '\\';
                m_out += c;
            } else if (static_cast<unsigned char>(c) < 0x20) {
                char buffer[8];
                std::snprintf(buffer, sizeof buffer, "\\u%04x", unsigned(static_cast<unsigned char>(c)));
                m_out += buffer;
            } else {
                m_out += c;
            }
        }
        m_out += '"';
    }

    std::string& m_out;
    bool m_first = true;
};

void write(JsonLine& j, const Distribution& d) {
    j.open('{');
    j.key("count").value(d.count);
    j.key("hist_max").value(d.histogramMax);
    j.key("hist_min").value(d.histogramMin);
    j.key("histogram").values(d.histogram);
    j.key("mean").value(d.mean);
    j.key("percentiles").values(d.percentiles);
    j.key("std").value(d.stddev);
    j.close('}');
}

}  // namespace

std::string toJsonLine(const ProbeSnapshot& p) {
    std::string out;
    out.reserve(8192);
    JsonLine j(out);
    j.open('{');
    j.key("activations").open('[');
    for (const ActivationProbe& a : p.activations) {
        j.open('{');
        j.key("block").value(a.block);
        j.key("post");
        write(j, a.post);
        j.key("pre");
        write(j, a.pre);
        j.close('}');
    }
    j.close(']');
    j.key("batchnorm").open('[');
    for (const BatchNormProbe& b : p.batchNorm) {
        j.open('{');
        j.key("batch_mean").values(b.batchMean);
        j.key("batch_var").values(b.batchVar);
        j.key("features").values(b.features);
        j.key("layer").value(b.layer);
        j.key("running_mean").values(b.runningMean);
        j.key("running_var").values(b.runningVar);
        j.close('}');
    }
    j.close(']');
    j.key("epoch").value(p.epoch);
    j.key("params").open('[');
    for (const ParamProbe& q : p.params) {
        j.open('{');
        j.key("grad_norm").value(q.gradNorm);
        j.key("name").value(q.name);
        j.key("update_ratio").value(q.updateRatio);
        j.key("weight_norm").value(q.weightNorm);
        j.close('}');
    }
    j.close(']');
    j.key("percentile_levels").open('[');
    for (float q : kPercentiles) j.value(std::round(double(q) * 1000) / 1000);  // 6.681, not 6.6810002
    j.close(']');
    j.key("samples").value(p.samples);
    j.key("seconds").value(p.seconds);
    j.key("step").value(p.step);
    j.close('}');
    return out;
}

QJsonObject toJson(const LandscapeRecord& l) {
    QJsonArray layers;
    for (const LayerShift& s : l.layers)
        layers.append(QJsonObject{{"layer", QString::fromStdString(s.layer)}, {"distance", number(s.distance)},
                                  {"cosine", number(s.cosine)}, {"grad_norm", number(s.gradNorm)}});
    return {{"step", double(l.step)}, {"epoch", l.epoch}, {"samples", double(l.samples)}, {"seconds", l.seconds},
            {"learning_rate", number(l.learningRate)}, {"loss", number(l.loss)}, {"grad_norm", number(l.gradNorm)},
            {"step_sizes", array(l.stepSizes)}, {"losses", array(l.losses)}, {"grad_changes", array(l.gradChanges)},
            {"loss_min", number(l.lossMin)}, {"loss_max", number(l.lossMax)},
            {"predictiveness", number(l.predictiveness)}, {"beta_smoothness", number(l.betaSmoothness)},
            {"layers", layers}};
}

QJsonObject toJson(const RunSummary& s) {
    QJsonObject o{{"format", "bnlab-summary"}, {"version", 1},
                  {"stopped_reason", QString::fromStdString(toString(s.reason))},
                  {"message", QString::fromStdString(s.message)},
                  {"steps", double(s.steps)}, {"epochs", s.epochs}, {"samples", double(s.samples)},
                  {"seconds", s.seconds}, {"training_seconds", s.trainingSeconds},
                  {"samples_per_second", s.samplesPerSecond},
                  {"probes", double(s.probes)}, {"probe_seconds", s.probeSeconds},
                  {"session_training_seconds", s.sessionTrainingSeconds},
                  {"val_accuracy", s.hasValidation ? number(s.valAccuracy) : QJsonValue()},
                  {"val_loss", s.hasValidation ? number(s.valLoss) : QJsonValue()},
                  {"test_accuracy", s.hasTest ? number(s.testAccuracy) : QJsonValue()},
                  {"test_loss", s.hasTest ? number(s.testLoss) : QJsonValue()}};
    if (s.reason == StopReason::Diverged) {
        o["diverged_step"] = double(s.divergedStep);
        o["diverged_layer"] = QString::fromStdString(s.divergedLayer);
    }
    return o;
}

QByteArray predictionsJson(const PredictionRecord& p) {
    // Written by hand rather than through QJsonArray: 50,000 numbers for the validation split, 100,000 for test.
    const SamplePredictions& s = p.predictions;
    const ConfusionRecord& c = p.confusion;
    std::ostringstream out;
    out.precision(17);
    out << "{\"format\": \"bnlab-predictions\", \"version\": 1, \"split\": \"" << c.split << "\", \"step\": " << c.step
        << ", \"epoch\": " << c.epoch << ", \"samples\": " << c.samples << ", \"seconds\": " << c.seconds
        << ", \"classes\": " << s.classes << ", \"first_image\": " << s.firstImage << ",\n\"labels\": [";
    for (Index i = 0; i < s.size(); ++i) out << (i ? "," : "") << int(s.labels[std::size_t(i)]);
    out << "],\n\"predicted\": [";
    for (Index i = 0; i < s.size(); ++i) out << (i ? "," : "") << int(s.predicted[std::size_t(i)]);
    out << "],\n\"probabilities_e4\": [";  // each probability × 10,000, rounded: 0.0123 is 123
    for (Index i = 0; i < s.size(); ++i) {
        out << (i ? ",\n[" : "\n[");
        for (int k = 0; k < s.classes; ++k) {
            const float p = s.probability(i, k);
            out << (k ? "," : "") << (std::isfinite(p) ? std::lround(double(p) * kProbabilityScale) : 0);
        }
        out << ']';
    }
    out << "]}\n";
    return QByteArray::fromStdString(out.str());
}

RunWriter::RunWriter(const QString& folder, const RunConfig& config, const QString& datasetFolder)
    : m_folder(folder), m_datasetFolder(datasetFolder) {
    QDir dir(folder);
    if (QFileInfo(folder).exists() && !QFileInfo(folder).isDir()) fail(folder + ": exists and is not a folder");
    if (dir.exists("summary.json") || dir.exists("config.json"))
        fail(folder + ": already holds a run; choose another --out folder");
    if (!QDir().mkpath(folder)) fail(folder + ": cannot create the folder");
    QJsonObject cfg = toJson(config);
    cfg["dataset"] = datasetFolder;
    writeJsonFile(dir.filePath("config.json"), cfg);
    auto open = [&](std::ofstream& out, const char* name) {
        out.open(dir.filePath(name).toStdString(), std::ios::out | std::ios::trunc);
        if (!out) fail(dir.filePath(name) + ": cannot write");
    };
    open(m_steps, "steps.csv");
    open(m_evals, "evals.csv");
    open(m_probes, "probes.jsonl");
    open(m_confusion, "confusion.jsonl");
    m_steps.precision(17);  // every double reads back exactly (run_reader.h)
    m_evals.precision(17);
    m_steps << "step,epoch,samples,seconds,loss,accuracy,loss_ema,accuracy_ema\n";
    m_evals << "step,epoch,samples,seconds,split,loss,accuracy,epoch_end\n";
    m_lastFlush = std::chrono::steady_clock::now();
}

void RunWriter::check(std::ofstream& out, const char* file) {
    if (!out) fail(QDir(m_folder).filePath(file) + ": write failed (disk full?)");
}

void RunWriter::maybeFlush() {
    const auto now = std::chrono::steady_clock::now();
    if (now - m_lastFlush < std::chrono::seconds(1)) return;
    m_lastFlush = now;
    m_steps.flush();
    m_evals.flush();
    m_probes.flush();
    if (m_landscape.is_open()) {
        m_landscape.flush();
        check(m_landscape, "landscape.jsonl");
    }
    m_confusion.flush();
    check(m_steps, "steps.csv");
    check(m_evals, "evals.csv");
    check(m_probes, "probes.jsonl");
    check(m_confusion, "confusion.jsonl");
}

void RunWriter::onStart(const RunInfo& info) {
    QJsonObject o{{"format", "bnlab-run-info"}, {"version", 1}, {"layers", QJsonArray()},
                  {"train_samples", double(info.trainSamples)}, {"validation_samples", double(info.validationSamples)},
                  {"test_samples", double(info.testSamples)}, {"steps_per_epoch", double(info.stepsPerEpoch)},
                  {"total_steps", double(info.totalSteps)}, {"threads", info.threads}};
    QJsonArray layers, blocks, params;
    for (const auto& l : info.layers) layers.append(QString::fromStdString(l));
    for (const auto& b : info.blocks) blocks.append(QString::fromStdString(b));
    for (const auto& p : info.params) params.append(QString::fromStdString(p));
    o["layers"] = layers;
    o["blocks"] = blocks;
    o["params"] = params;
    writeJsonFile(QDir(m_folder).filePath("run_info.json"), o);
}

void RunWriter::onStep(const StepRecord& r) {
    m_steps << r.step << ',' << r.epoch << ',' << r.samples << ',' << r.seconds << ',' << r.loss << ',' << r.accuracy
            << ',' << r.lossEma << ',' << r.accuracyEma << '\n';
    maybeFlush();
}

void RunWriter::onEval(const EvalRecord& r) {
    m_evals << r.step << ',' << r.epoch << ',' << r.samples << ',' << r.seconds << ',' << r.split << ',' << r.loss << ','
            << r.accuracy << ',' << (r.epochEnd ? 1 : 0) << '\n';
    maybeFlush();
}

void RunWriter::onPredictions(const PredictionRecord& p) {
    const ConfusionRecord& c = p.confusion;
    QJsonArray rows;
    for (int t = 0; t < c.classes; ++t) {
        QJsonArray row;
        for (int k = 0; k < c.classes; ++k) row.append(double(c.at(t, k)));
        rows.append(row);
    }
    const QJsonObject o{{"step", double(c.step)}, {"epoch", c.epoch}, {"samples", double(c.samples)},
                        {"seconds", c.seconds}, {"split", QString::fromStdString(c.split)}, {"classes", c.classes},
                        {"counts", rows}};
    m_confusion << QJsonDocument(o).toJson(QJsonDocument::Compact).toStdString() << '\n';
    if (p.predictions.size() > 0) {
        const QString path = QDir(m_folder).filePath(QString::fromStdString("predictions-" + c.split + ".json"));
        QSaveFile file(path);  // the latest evaluation replaces the one before, never half a file
        if (!file.open(QIODevice::WriteOnly) || file.write(predictionsJson(p)) < 0 || !file.commit())
            fail(path + ": cannot write (" + file.errorString() + ")");
    }
    maybeFlush();
}

void RunWriter::onProbe(const ProbeSnapshot& p) {
    m_probes << toJsonLine(p) << '\n';
    maybeFlush();
}

void RunWriter::onLandscape(const LandscapeRecord& l) {
    if (!m_landscape.is_open()) m_landscape.open(QDir(m_folder).filePath("landscape.jsonl").toStdString(), std::ios::app);
    m_landscape << QJsonDocument(toJson(l)).toJson(QJsonDocument::Compact).toStdString() << '\n';
    maybeFlush();
}

void RunWriter::writePast(const RunData& past) {
    for (const StepRecord& r : past.steps) onStep(r);
    for (const EvalRecord& r : past.evals) onEval(r);
    for (const ProbeSnapshot& p : past.probes) onProbe(p);
    for (const ChangeRecord& c : past.changes) writeChange(c);  // run_info.json is the trainer's to write
    for (const LandscapeRecord& l : past.landscape) onLandscape(l);
    for (const ConfusionRecord& c : past.confusions) onPredictions(PredictionRecord{c, {}});  // matrices only
}

void RunWriter::onChange(const ChangeRecord& c) {
    writeChange(c);
    if (c.applied && (c.structural || c.key == "batch_size")) onStart(c.info);  // new layers or total steps
}

void RunWriter::writeChange(const ChangeRecord& c) {
    if (!m_changes.is_open()) m_changes.open(QDir(m_folder).filePath("changes.jsonl").toStdString(), std::ios::app);
    const QJsonObject o{{"step", double(c.step)}, {"epoch", c.epoch}, {"samples", double(c.samples)},
                        {"seconds", c.seconds}, {"key", QString::fromStdString(c.key)},
                        {"value", QString::fromStdString(c.value)}, {"applied", c.applied},
                        {"description", QString::fromStdString(c.description)}};
    m_changes << QJsonDocument(o).toJson(QJsonDocument::Compact).toStdString() << '\n';
    m_changes.flush();
    check(m_changes, "changes.jsonl");
}

void RunWriter::onFinish(const RunSummary& s) {
    m_steps.close();
    m_evals.close();
    m_probes.close();
    if (m_landscape.is_open()) {
        m_landscape.close();
        check(m_landscape, "landscape.jsonl");
    }
    m_confusion.close();
    check(m_steps, "steps.csv");
    check(m_evals, "evals.csv");
    check(m_probes, "probes.jsonl");
    check(m_confusion, "confusion.jsonl");
    writeJsonFile(QDir(m_folder).filePath("summary.json"), toJson(s));
}

}  // namespace bnlab::app
