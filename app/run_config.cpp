#include "run_config.h"

#include "error.h"

#include <QFile>
#include <QHash>
#include <QSet>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>

#include <charconv>
#include <functional>
#include <limits>

namespace bnlab::app {
namespace {

using namespace bnlab::engine;

[[noreturn]] void fail(const QString& message) { throw ConfigError(message.toStdString()); }

long long parseInteger(const QString& key, const QString& value, long long lo, long long hi) {
    bool ok = false;
    const long long v = value.trimmed().toLongLong(&ok);
    if (!ok) fail(key + ": '" + value + "' is not a whole number");
    if (v < lo || v > hi) fail(key + ": " + value + " is out of range " + QString::number(lo) + ".." + QString::number(hi));
    return v;
}

int parseInt(const QString& key, const QString& value) {
    return int(parseInteger(key, value, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

float parseFloat(const QString& key, const QString& value) {
    bool ok = false;
    const double v = value.trimmed().toDouble(&ok);  // accepts nan and inf: validate() names them
    if (!ok) fail(key + ": '" + value + "' is not a number");
    return float(v);
}

// The shortest text that reads back as the same float (0.1f prints as "0.1", not "0.100000001").
QString num(float v) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return QString::fromLatin1(buf, int(r.ptr - buf));
}

// The linear (dense and conv2d) hidden blocks, which `norm`, `activation` and block.N.* address.
std::vector<BlockSpec*> linearBlocks(TrainOptions& t) {
    std::vector<BlockSpec*> out;
    for (BlockSpec& b : t.network.blocks)
        if (b.isLinear()) out.push_back(&b);
    return out;
}

QString commonValue(const TrainOptions& t, const std::function<QString(const BlockSpec&)>& get) {
    QString common;
    for (BlockSpec* b : linearBlocks(const_cast<TrainOptions&>(t))) {
        const QString v = get(*b);
        if (common.isEmpty()) common = v;
        else if (common != v) return "mixed";
    }
    return common.isEmpty() ? "none" : common;
}

QString activationName(const BlockSpec& b) {
    return b.activation ? QString::fromStdString(toString(*b.activation)) : "none";
}

struct KeyHandler {
    ConfigKey key;
    std::function<void(TrainOptions&, const QString&)> set;
    std::function<QString(const TrainOptions&)> get;
    bool numeric = true;  // written to JSON as a number
};

const std::vector<KeyHandler>& handlers() {
    static const std::vector<KeyHandler> all = [] {
        std::vector<KeyHandler> h;
        auto intKey = [&h](QString name, QString range, QString help, int TrainOptions::*field) {
            h.push_back({{name, range, help},
                         [name, field](TrainOptions& t, const QString& v) { t.*field = parseInt(name, v); },
                         [field](const TrainOptions& t) { return QString::number(t.*field); }});
        };
        auto indexKey = [&h](QString name, QString range, QString help, Index TrainOptions::*field) {
            h.push_back({{name, range, help},
                         [name, field](TrainOptions& t, const QString& v) {
                             t.*field = parseInteger(name, v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
                         },
                         [field](const TrainOptions& t) { return QString::number(t.*field); }});
        };
        auto floatKey = [&h](QString name, QString range, QString help, std::function<float&(TrainOptions&)> field) {
            h.push_back({{name, range, help},
                         [name, field](TrainOptions& t, const QString& v) { field(t) = parseFloat(name, v); },
                         [field](const TrainOptions& t) { return num(field(const_cast<TrainOptions&>(t))); }});
        };
        intKey("epochs", "1..", "passes over the training split", &TrainOptions::epochs);
        intKey("batch_size", "1..training size", "samples per step; BN normalises with the statistics of each batch, "
               "so small batches give noisy statistics (BN needs at least 2)", &TrainOptions::batchSize);
        h.push_back({{"max_steps", "0..", "stop after this many steps (0 = no limit), for quick runs"},
                     [](TrainOptions& t, const QString& v) { t.maxSteps = long(parseInteger("max_steps", v, -1, 1LL << 40)); },
                     [](const TrainOptions& t) { return QString::number(t.maxSteps); }});
        floatKey("learning_rate", "> 0", "step size of the optimizer; BN makes larger ones usable",
                 [](TrainOptions& t) -> float& { return t.optimizer.learningRate; });
        h.push_back({{"optimizer", "sgd|adam", "SGD (with optional momentum) or Adam"},
                     [](TrainOptions& t, const QString& v) {
                         if (v == "sgd") t.optimizer.kind = OptimizerKind::SGD;
                         else if (v == "adam") t.optimizer.kind = OptimizerKind::Adam;
                         else fail("optimizer: unknown '" + v + "' (expected sgd or adam)");
                     },
                     [](const TrainOptions& t) { return QString(t.optimizer.kind == OptimizerKind::SGD ? "sgd" : "adam"); },
                     false});
        floatKey("momentum", "[0, 1)", "SGD momentum (0 = plain SGD)", [](TrainOptions& t) -> float& { return t.optimizer.momentum; });
        floatKey("adam_beta1", "[0, 1)", "Adam's decay of the first moment", [](TrainOptions& t) -> float& { return t.optimizer.beta1; });
        floatKey("adam_beta2", "[0, 1)", "Adam's decay of the second moment", [](TrainOptions& t) -> float& { return t.optimizer.beta2; });
        floatKey("adam_epsilon", "> 0", "Adam's epsilon (Keras 1e-7, PyTorch 1e-8)", [](TrainOptions& t) -> float& { return t.optimizer.adamEpsilon; });
        floatKey("weight_decay", ">= 0", "L2 penalty added to weight gradients (not to biases, gamma or beta)",
                 [](TrainOptions& t) -> float& { return t.optimizer.weightDecay; });
        floatKey("bn_momentum", "[0, 1)", "Keras convention: the weight kept on the old running statistics at each "
                 "step (PyTorch's momentum is 1 minus this); the running statistics are what inference uses",
                 [](TrainOptions& t) -> float& { return t.batchNorm.momentum; });
        floatKey("bn_epsilon", "> 0", "added to the batch variance before the square root",
                 [](TrainOptions& t) -> float& { return t.batchNorm.epsilon; });
        h.push_back({{"norm", "none|before|after", "normalisation placement for every dense and conv block at once: "
                      "before or after the activation, or none (norm_kind says which normalisation)"},
                     [](TrainOptions& t, const QString& v) {
                         const NormPlacement n = normFromString(v.toStdString());
                         for (BlockSpec* b : linearBlocks(t)) b->norm = n;
                     },
                     [](const TrainOptions& t) {
                         return commonValue(t, [](const BlockSpec& b) { return QString::fromStdString(toString(b.norm)); });
                     },
                     false});
        h.push_back({{"norm_kind", "batch|layer|group|renorm", "the normalisation of every dense and conv block at once: "
                      "Batch Normalization, LayerNorm (each sample over its C*H*W values), GroupNorm (each sample over "
                      "groups of channels; conv blocks, dense blocks get LayerNorm) or Batch Renormalization; layer "
                      "and group work with any batch size"},
                     [](TrainOptions& t, const QString& v) { setNormKind(t.network, normKindFromString(v.toStdString())); },
                     [](const TrainOptions& t) {
                         // the kind that, set with this key, gives every block's kind; "mixed" when none does
                         for (NormKind k : {NormKind::Batch, NormKind::Layer, NormKind::Group, NormKind::Renorm}) {
                             TrainOptions copy = t;
                             setNormKind(copy.network, k);
                             if (copy.network == t.network) return QString::fromStdString(toString(k));
                         }
                         return QString("mixed");
                     },
                     false});
        h.push_back({{"dropout", "[0, 1)", "Dropout rate p at the end of every dense and conv block (inverted "
                      "dropout: kept values are scaled by 1/(1-p); none in evaluation); 0 = no Dropout layer"},
                     [](TrainOptions& t, const QString& v) {
                         const float p = parseFloat("dropout", v);
                         for (BlockSpec* b : linearBlocks(t)) b->dropout = p;
                     },
                     [](const TrainOptions& t) { return commonValue(t, [](const BlockSpec& b) { return num(b.dropout); }); },
                     false});
        h.push_back({{"group_norm_groups", "1..", "GroupNorm: at most this many groups of channels per layer (the "
                      "largest divisor of the channels not above it; 32 as in Wu & He 2018)"},
                     [](TrainOptions& t, const QString& v) { t.batchNorm.groups = parseInt("group_norm_groups", v); },
                     [](const TrainOptions& t) { return QString::number(t.batchNorm.groups); }});
        floatKey("renorm_rmax", ">= 1", "Batch Renormalization: r = sigma_batch/sigma_running is clipped to "
                 "[1/rmax, rmax] (1 = plain BN)", [](TrainOptions& t) -> float& { return t.batchNorm.rMax; });
        floatKey("renorm_dmax", ">= 0", "Batch Renormalization: d = (mu_batch - mu_running)/sigma_running is clipped to "
                 "[-dmax, dmax] (0 = plain BN)", [](TrainOptions& t) -> float& { return t.batchNorm.dMax; });
        h.push_back({{"bn_noise", "off|on", "\"noisy\" BN (Santurkar et al. 2018): after every BN and Batch Renorm "
                      "layer, in training only, each feature is scaled by s and shifted by m drawn afresh at every "
                      "step (m from U(-bn_noise_mean, bn_noise_mean), s from U(1, bn_noise_scale)), so that the next "
                      "layer's input distribution keeps shifting"},
                     [](TrainOptions& t, const QString& v) {
                         if (v == "on") t.batchNorm.noise = true;
                         else if (v == "off") t.batchNorm.noise = false;
                         else fail("bn_noise: unknown '" + v + "' (expected off or on)");
                     },
                     [](const TrainOptions& t) { return QString(t.batchNorm.noise ? "on" : "off"); },
                     false});
        floatKey("bn_noise_mean", ">= 0", "bn_noise: the noise mean of each feature is drawn from "
                 "U(-bn_noise_mean, bn_noise_mean) at every step", [](TrainOptions& t) -> float& { return t.batchNorm.noiseMean; });
        floatKey("bn_noise_scale", ">= 1", "bn_noise: the noise scale of each feature is drawn from U(1, bn_noise_scale) "
                 "at every step", [](TrainOptions& t) -> float& { return t.batchNorm.noiseScale; });
        h.push_back({{"activation", "relu|sigmoid|tanh|none", "the nonlinearity of every dense and conv block"},
                     [](TrainOptions& t, const QString& v) {
                         const auto a = activationFromString(v.toStdString());
                         for (BlockSpec* b : linearBlocks(t)) b->activation = a;
                     },
                     [](const TrainOptions& t) { return commonValue(t, activationName); },
                     false});
        h.push_back({{"init", "he|glorot|gaussian", "weight initialiser; gaussian uses init_scale as its standard deviation"},
                     [](TrainOptions& t, const QString& v) { t.init.kind = initKindFromString(v.toStdString()); },
                     [](const TrainOptions& t) { return QString::fromStdString(toString(t.init.kind)); },
                     false});
        floatKey("init_scale", "> 0", "he/glorot: a factor on the standard scale; gaussian: the standard deviation",
                 [](TrainOptions& t) -> float& { return t.init.scale; });
        h.push_back({{"seed", "0..2^64-1", "one seed for the weights, the shuffle and the probe batch"},
                     [](TrainOptions& t, const QString& v) {
                         bool ok = false;
                         const qulonglong seed = v.trimmed().toULongLong(&ok);
                         if (!ok) fail("seed: '" + v + "' is not a whole number from 0 to 2^64-1");
                         t.seed = seed;
                     },
                     [](const TrainOptions& t) { return QString::number(t.seed); }});
        indexKey("validation_size", "0..training files - 1", "images carved from the end of the training files "
                 "for validation", &TrainOptions::validationSize);
        indexKey("train_size", "0..", "train on the first N training images only (0 = all that remain)",
                 &TrainOptions::trainSize);
        intKey("probe_interval", "0..", "steps between activation/gradient probes (0 = off)", &TrainOptions::probeInterval);
        intKey("probe_batch_size", "2..", "size of the fixed probe batch drawn from the validation split",
               &TrainOptions::probeBatchSize);
        intKey("landscape_interval", "0..", "steps between loss-landscape measures on the training batch (internal "
               "covariate shift per weight layer, loss range, gradient predictiveness, beta-smoothness; Santurkar et "
               "al. 2018); each costs about (weight layers + 5) forward and backward passes; 0 = off",
               &TrainOptions::landscapeInterval);
        intKey("eval_interval", "0..", "steps between validation evaluations (0 = at epoch ends only)",
               &TrainOptions::evalInterval);
        intKey("eval_batch_size", "1..", "evaluation runs in chunks of this many images", &TrainOptions::evalBatchSize);
        h.push_back({{"eval_statistics", "running|batch", "what validation and test evaluations normalise BN and Batch "
                      "Renorm layers with: their running statistics (inference mode, the default) or the statistics "
                      "of each chunk of eval_batch_size images (training mode, a last chunk of 1 image joins the one "
                      "before), which updates nothing; the gap between the two is the train/inference difference. "
                      "LayerNorm and GroupNorm are unaffected"},
                     [](TrainOptions& t, const QString& v) {
                         if (v == "running") t.evalStatistics = EvalStatistics::Running;
                         else if (v == "batch") t.evalStatistics = EvalStatistics::Batch;
                         else fail("eval_statistics: unknown '" + v + "' (expected running or batch)");
                     },
                     [](const TrainOptions& t) { return QString::fromStdString(toString(t.evalStatistics)); },
                     false});
        intKey("threads", "0..256", "worker threads (0 = all cores); results do not depend on it", &TrainOptions::threads);
        return h;
    }();
    return all;
}

const KeyHandler* findHandler(const QString& key) {
    for (const KeyHandler& h : handlers())
        if (h.key.name == key) return &h;
    return nullptr;
}

// block.N.field, N from 1 over the linear blocks.
bool applyBlockSetting(TrainOptions& t, const QString& key, const QString& value) {
    static const QRegularExpression re("^block\\.(\\d+)\\.(norm|norm_kind|activation|size|dropout)$");
    const auto m = re.match(key);
    if (!m.hasMatch()) return false;
    const auto blocks = linearBlocks(t);
    const int n = m.captured(1).toInt();
    if (n < 1 || n > int(blocks.size()))
        fail(key + ": the network has " + QString::number(blocks.size()) + " dense/conv blocks (block.1 .. block." +
             QString::number(blocks.size()) + ")");
    BlockSpec& b = *blocks[std::size_t(n - 1)];
    const QString field = m.captured(2);
    try {
        if (field == "norm") b.norm = normFromString(value.toStdString());
        else if (field == "norm_kind") b.normKind = normKindFromString(value.toStdString());
        else if (field == "activation") b.activation = activationFromString(value.toStdString());
        else if (field == "dropout") b.dropout = parseFloat(key, value);
        else b.size = parseInt(key, value);
    } catch (const ConfigError& e) {
        const QString msg = QString::fromStdString(e.what());
        if (msg.startsWith(key + ":")) throw;
        fail(key + ": " + (msg.startsWith(field + ": ") ? msg.mid(field.size() + 2) : msg));
    }
    return true;
}

QJsonObject blockToJson(const BlockSpec& b) {
    QJsonObject o{{"kind", QString::fromStdString(toString(b.kind))}};
    if (b.isLinear()) {
        o["size"] = b.size;
        o["activation"] = activationName(b);
        o["norm"] = QString::fromStdString(toString(b.norm));
        o["norm_kind"] = QString::fromStdString(toString(b.normKind));
        o["dropout"] = num(b.dropout).toDouble();  // the shortest text of the float: 0.3, not 0.30000001192092896
    }
    if (b.kind == BlockKind::Conv2D || b.kind == BlockKind::MaxPool2D) {
        o["kernel"] = b.kernel;
        o["stride"] = b.stride;  // 0 = the default; effectiveStride() would not read back as the same spec
    }
    if (b.kind == BlockKind::Conv2D) o["padding"] = b.padding;
    return o;
}

BlockSpec blockFromJson(const QJsonValue& value, const QString& where) {
    if (!value.isObject()) fail(where + ": a block must be an object");
    const QJsonObject o = value.toObject();
    BlockSpec b;
    try {
        b.kind = blockKindFromString(o.value("kind").toString().toStdString());
        for (const QString& k : o.keys()) {
            const QJsonValue v = o.value(k);
            auto integer = [&] {
                if (!v.isDouble() || v.toDouble() != double(v.toInt())) fail(k + ": expected a whole number");
                return v.toInt();
            };
            if (k == "kind") continue;
            else if (k == "size") b.size = integer();
            else if (k == "kernel") b.kernel = integer();
            else if (k == "stride") b.stride = integer();
            else if (k == "padding") b.padding = integer();
            else if (k == "activation") b.activation = activationFromString(v.toString().toStdString());
            else if (k == "norm") b.norm = normFromString(v.toString().toStdString());
            else if (k == "norm_kind") b.normKind = normKindFromString(v.toString().toStdString());  // absent: batch
            else if (k == "dropout") {
                if (!v.isDouble()) fail(k + ": expected a number");
                b.dropout = float(v.toDouble());
            }
            else fail("unknown key '" + k + "'");
        }
    } catch (const ConfigError& e) {
        fail(where + ": " + QString::fromStdString(e.what()));
    }
    return b;
}

}  // namespace

const std::vector<ConfigKey>& configKeys() {
    static const std::vector<ConfigKey> keys = [] {
        std::vector<ConfigKey> k;
        for (const KeyHandler& h : handlers()) k.push_back(h.key);
        k.push_back({"block.N.norm", "none|before|after", "normalisation placement of the N-th dense/conv block"});
        k.push_back({"block.N.norm_kind", "batch|layer|group|renorm", "normalisation of the N-th dense/conv block"});
        k.push_back({"block.N.dropout", "[0, 1)", "Dropout rate at the end of the N-th dense/conv block (0 = none)"});
        k.push_back({"block.N.activation", "relu|sigmoid|tanh|none", "activation of the N-th dense/conv block"});
        k.push_back({"block.N.size", "1..", "units (dense) or filters (conv) of the N-th dense/conv block"});
        return k;
    }();
    return keys;
}

void applySetting(RunConfig& config, const QString& key, const QString& value) {
    if (const KeyHandler* h = findHandler(key)) {
        try {
            h->set(config.train, value);
        } catch (const ConfigError& e) {
            const QString msg = QString::fromStdString(e.what());
            // Engine parsers name their own field ("norm: ..."); make sure the key the user typed is named.
            fail(msg.startsWith(key + ":") ? msg : key + ": " + msg);
        }
        return;
    }
    if (applyBlockSetting(config.train, key, value)) return;
    fail("unknown setting '" + key + "' (bnlab-cli train --help lists them)");
}

void applySetting(RunConfig& config, const QString& keyEqualsValue) {
    const int eq = keyEqualsValue.indexOf('=');
    if (eq <= 0) fail("--set: expected KEY=VALUE, got '" + keyEqualsValue + "'");
    applySetting(config, keyEqualsValue.left(eq).trimmed(), keyEqualsValue.mid(eq + 1));
}

QString settingValue(const RunConfig& config, const QString& key) {
    if (const KeyHandler* h = findHandler(key)) return h->get(config.train);
    return {};
}

engine::LiveChange liveChange(const RunConfig& config, const QString& key, const QString& value) {
    // Parse the value as the setting would be, on a copy: the same messages as --set.
    RunConfig copy = config;
    applySetting(copy, key, value);
    const engine::TrainOptions& t = copy.train;
    if (key == "learning_rate") return engine::LiveChange::learningRate(t.optimizer.learningRate);
    if (key == "bn_momentum") return engine::LiveChange::batchNormMomentum(t.batchNorm.momentum);
    if (key == "batch_size") return engine::LiveChange::batchSize(t.batchSize);
    static const QRegularExpression blockNorm("^block\\.(\\d+)\\.norm$");
    if (const auto m = blockNorm.match(key); m.hasMatch()) {
        const int ordinal = m.captured(1).toInt();
        const auto& blocks = t.network.blocks;
        for (int i = 0, linear = 0; i < int(blocks.size()); ++i)
            if (blocks[std::size_t(i)].isLinear() && ++linear == ordinal)
                return engine::LiveChange::normPlacement(i, blocks[std::size_t(i)].norm);
    }
    fail(key + ": cannot change during a run (these can: learning_rate, bn_momentum, batch_size, block.N.norm)");
}

void addScheduledChange(RunConfig& config, const QString& text) {
    static const QRegularExpression form("^\\s*(\\d+)\\s*:\\s*([^=\\s]+)\\s*=\\s*(.*)$");
    const auto m = form.match(text);
    if (!m.hasMatch()) fail("at: expected STEP:KEY=VALUE (e.g. 500:learning_rate=1), got '" + text + "'");
    bool ok = false;
    const long step = m.captured(1).toLong(&ok);
    if (!ok) fail("at: the step '" + m.captured(1) + "' is not a number");
    config.train.schedule.push_back({step, liveChange(config, m.captured(2), m.captured(3).trimmed())});
}

QString scheduledChangeText(const RunConfig& config, const engine::ScheduledChange& s) {
    const engine::LiveChange& c = s.change;
    QString key, value;
    switch (c.kind) {
        case engine::LiveChange::Kind::LearningRate: key = "learning_rate"; break;
        case engine::LiveChange::Kind::BatchNormMomentum: key = "bn_momentum"; break;
        case engine::LiveChange::Kind::BatchSize: key = "batch_size"; break;
        case engine::LiveChange::Kind::Norm: {
            int ordinal = 0;
            for (int i = 0; i <= c.block && i < int(config.train.network.blocks.size()); ++i)
                ordinal += config.train.network.blocks[std::size_t(i)].isLinear();
            key = QString("block.%1.norm").arg(ordinal);
            value = QString::fromStdString(engine::toString(c.norm));
            break;
        }
    }
    if (value.isEmpty()) value = c.kind == engine::LiveChange::Kind::BatchSize ? QString::number(qint64(c.value))
                                                                               : QString::number(c.value, 'g', 9);
    return QString::number(s.step) + ":" + key + "=" + value;
}

QStringList settingDifferences(const RunConfig& base, const RunConfig& other) {
    static const QHash<QString, QString> labels{{"norm", "BN"},
                                                {"batch_size", "batch"},
                                                {"learning_rate", "learning rate"},
                                                {"bn_momentum", "BN momentum"},
                                                {"bn_epsilon", "BN epsilon"},
                                                {"eval_statistics", "BN evaluated with"},
                                                {"bn_noise", "BN noise"},
                                                {"size", "size"}};
    auto label = [](const QString& key) { return labels.value(key, key); };
    const auto& a = base.train.network.blocks;
    const auto& b = other.train.network.blocks;
    bool sameLayers = a.size() == b.size();
    for (std::size_t i = 0; sameLayers && i < a.size(); ++i) sameLayers = a[i].kind == b[i].kind;
    QStringList out;
    auto presetName = [](const RunConfig& c) { return c.preset.isEmpty() ? QStringLiteral("custom") : c.preset; };
    if (!sameLayers) out << "network " + presetName(base) + " → " + presetName(other);
    // Settings that change what is measured but not how the network trains: left out.
    static const QSet<QString> bookkeeping{"probe_interval", "probe_batch_size", "landscape_interval",
                                               "eval_interval", "eval_batch_size", "threads"};
    // Keys set for every block at once ("norm", "dropout", ...) that blocks also hold each their own.
    QSet<QString> blockKeys;
    for (const BlockSpec& b : a)
        if (b.isLinear())
            for (const QString& k : blockToJson(b).keys()) blockKeys << k;
    QSet<QString> perBlock;  // fields that differ block by block, not as one global value
    for (const KeyHandler& h : handlers()) {
        if (bookkeeping.contains(h.key.name)) continue;
        const bool blockField = blockKeys.contains(h.key.name);
        if (blockField && !sameLayers) continue;
        const QString va = h.get(base.train), vb = h.get(other.train);
        if (va == vb) continue;
        if (blockField && (va == "mixed" || vb == "mixed")) perBlock << h.key.name;
        else out << label(h.key.name) + " " + va + " → " + vb;
    }
    if (sameLayers)
        for (std::size_t i = 0, ordinal = 0; i < a.size(); ++i) {
            if (!a[i].isLinear()) continue;
            ++ordinal;
            const QJsonObject ja = blockToJson(a[i]), jb = blockToJson(b[i]);
            for (auto it = ja.begin(); it != ja.end(); ++it) {
                const QJsonValue vb = jb.value(it.key());
                if (vb == it.value()) continue;
                if (findHandler(it.key()) && !perBlock.contains(it.key())) continue;  // said once for all blocks
                auto text = [](const QJsonValue& v) { return v.isDouble() ? QString::number(v.toDouble()) : v.toString(); };
                out << QString("block %1 %2 %3 → %4").arg(ordinal).arg(label(it.key()), text(it.value()), text(vb));
            }
        }
    QStringList planA, planB;
    for (const engine::ScheduledChange& c : base.train.schedule) planA << scheduledChangeText(base, c);
    for (const engine::ScheduledChange& c : other.train.schedule) planB << scheduledChangeText(other, c);
    for (const QString& p : planB)
        if (!planA.contains(p)) out << "at " + p;
    for (const QString& p : planA)
        if (!planB.contains(p)) out << "not at " + p;
    return out;
}

QJsonObject toJson(const RunConfig& config) {
    QJsonObject o{{"format", "bnlab-config"}, {"version", 1}, {"preset", config.preset}};
    for (const KeyHandler& h : handlers()) {
        if (h.key.name == "norm" || h.key.name == "norm_kind" || h.key.name == "activation" || h.key.name == "dropout")
            continue;  // stored per block
        const QString v = h.get(config.train);
        if (h.key.name == "seed") o[h.key.name] = v;  // as text: a uint64 does not fit a JSON double
        else if (h.numeric) o[h.key.name] = v.toDouble();
        else o[h.key.name] = v;
    }
    QJsonArray blocks;
    for (const BlockSpec& b : config.train.network.blocks) blocks.append(blockToJson(b));
    o["network"] = QJsonObject{{"blocks", blocks}};
    if (!config.train.schedule.empty()) {
        QJsonArray schedule;
        for (const engine::ScheduledChange& s : config.train.schedule) schedule.append(scheduledChangeText(config, s));
        o["schedule"] = schedule;
    }
    return o;
}

RunConfig fromJson(const QJsonObject& json, const QString& source) {
    if (json.value("format").toString() != "bnlab-config")
        fail(source + ": not a BN Lab configuration (\"format\" is not \"bnlab-config\")");
    if (json.value("version").toInt() != 1)
        fail(source + ": unsupported version " + QString::number(json.value("version").toDouble()) + " (expected 1)");
    RunConfig config;
    config.preset = json.value("preset").toString();
    // The network first: keys such as norm and block.N.* refer to it.
    if (json.contains("network")) {
        const QJsonValue blocks = json.value("network").toObject().value("blocks");
        if (!blocks.isArray()) fail(source + ": network.blocks must be an array");
        const QJsonArray arr = blocks.toArray();
        for (int i = 0; i < arr.size(); ++i)
            config.train.network.blocks.push_back(blockFromJson(arr[i], source + ": network.blocks[" + QString::number(i) + "]"));
    }
    for (const QString& key : json.keys()) {
        if (key == "format" || key == "version" || key == "preset" || key == "network" || key == "dataset" ||
            key == "schedule")
            continue;
        const QJsonValue v = json.value(key);
        QString text;
        if (v.isDouble()) text = QString::number(v.toDouble(), 'g', 17);
        else if (v.isString()) text = v.toString();
        else fail(source + ": " + key + ": expected a number or a string");
        try {
            applySetting(config, key, text);
        } catch (const ConfigError& e) {
            fail(source + ": " + QString::fromStdString(e.what()));
        }
    }
    // Planned changes last: their values are read against the settings above.
    const QJsonValue schedule = json.value("schedule");
    if (!schedule.isUndefined()) {
        if (!schedule.isArray()) fail(source + ": schedule must be an array of \"STEP:KEY=VALUE\" strings");
        for (const QJsonValue& v : schedule.toArray()) {
            if (!v.isString()) fail(source + ": schedule: expected \"STEP:KEY=VALUE\" strings");
            try {
                addScheduledChange(config, v.toString());
            } catch (const ConfigError& e) {
                fail(source + ": schedule: " + QString::fromStdString(e.what()));
            }
        }
    }
    return config;
}

RunConfig loadConfigFile(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) fail(path + ": cannot open (" + file.errorString() + ")");
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &error);
    if (doc.isNull()) fail(path + ": not valid JSON at offset " + QString::number(error.offset) + " (" + error.errorString() + ")");
    if (!doc.isObject()) fail(path + ": the top level must be a JSON object");
    return fromJson(doc.object(), path);
}

}  // namespace bnlab::app
