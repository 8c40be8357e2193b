// The run configuration (app/run_config.h) and the presets (app/presets.h): every key round-trips through
// applySetting/settingValue, per-block keys address the right block, bad keys and values are named in the
// error, config.json round-trips exactly, and every preset is valid and its -nobn twin differs only in BN.

#include "error.h"
#include "presets.h"
#include "run_config.h"
#include "trainer.h"

#include <QByteArray>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace bnlab::engine;
using bnlab::ConfigError;
using bnlab::Error;
using bnlab::app::applySetting;
using bnlab::app::configKeys;
using bnlab::app::findPreset;
using bnlab::app::fromJson;
using bnlab::app::loadConfigFile;
using bnlab::app::presets;
using bnlab::app::RunConfig;
using bnlab::app::settingValue;
using bnlab::app::toJson;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

std::string str(const QString& s) { return s.toStdString(); }

// The message of the ConfigError that `f` throws; fails the test (and returns "") when it throws nothing.
std::string configErrorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const ConfigError& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a ConfigError";
    return {};
}

// The message of the Error (ConfigError included) that `f` throws.
std::string errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a bnlab::Error";
    return {};
}

RunConfig preset(const char* name) { return findPreset(name).config; }

// Every field of TrainOptions, one EXPECT per field so a failure names it.
void expectSameOptions(const TrainOptions& a, const TrainOptions& b) {
    EXPECT_TRUE(a.network == b.network) << "a:\n" << describe(a.network) << "b:\n" << describe(b.network);
    ASSERT_EQ(a.network.blocks.size(), b.network.blocks.size());
    for (std::size_t i = 0; i < a.network.blocks.size(); ++i) {
        const BlockSpec& x = a.network.blocks[i];
        const BlockSpec& y = b.network.blocks[i];
        EXPECT_EQ(x.kind, y.kind) << "block " << i;
        EXPECT_EQ(x.size, y.size) << "block " << i;
        EXPECT_EQ(x.kernel, y.kernel) << "block " << i;
        EXPECT_EQ(x.stride, y.stride) << "block " << i;
        EXPECT_EQ(x.padding, y.padding) << "block " << i;
        EXPECT_EQ(x.activation, y.activation) << "block " << i;
        EXPECT_EQ(x.norm, y.norm) << "block " << i;
        EXPECT_EQ(x.normKind, y.normKind) << "block " << i;
        EXPECT_EQ(x.dropout, y.dropout) << "block " << i;
    }
    EXPECT_EQ(a.batchNorm.momentum, b.batchNorm.momentum);
    EXPECT_EQ(a.batchNorm.epsilon, b.batchNorm.epsilon);
    EXPECT_EQ(a.batchNorm.rMax, b.batchNorm.rMax);
    EXPECT_EQ(a.batchNorm.dMax, b.batchNorm.dMax);
    EXPECT_EQ(a.batchNorm.groups, b.batchNorm.groups);
    EXPECT_EQ(a.optimizer.kind, b.optimizer.kind);
    EXPECT_EQ(a.optimizer.learningRate, b.optimizer.learningRate);
    EXPECT_EQ(a.optimizer.momentum, b.optimizer.momentum);
    EXPECT_EQ(a.optimizer.beta1, b.optimizer.beta1);
    EXPECT_EQ(a.optimizer.beta2, b.optimizer.beta2);
    EXPECT_EQ(a.optimizer.adamEpsilon, b.optimizer.adamEpsilon);
    EXPECT_EQ(a.optimizer.weightDecay, b.optimizer.weightDecay);
    EXPECT_EQ(a.init.kind, b.init.kind);
    EXPECT_EQ(a.init.scale, b.init.scale);
    EXPECT_EQ(a.batchSize, b.batchSize);
    EXPECT_EQ(a.epochs, b.epochs);
    EXPECT_EQ(a.maxSteps, b.maxSteps);
    EXPECT_EQ(a.seed, b.seed);
    EXPECT_EQ(a.validationSize, b.validationSize);
    EXPECT_EQ(a.trainSize, b.trainSize);
    EXPECT_EQ(a.probeInterval, b.probeInterval);
    EXPECT_EQ(a.probeBatchSize, b.probeBatchSize);
    EXPECT_EQ(a.evalInterval, b.evalInterval);
    EXPECT_EQ(a.evalBatchSize, b.evalBatchSize);
    EXPECT_EQ(a.evalStatistics, b.evalStatistics);
    EXPECT_EQ(a.threads, b.threads);
}

// toJson → text (as config.json stores it) → parse → fromJson.
RunConfig throughJsonText(const RunConfig& c) {
    const QByteArray text = QJsonDocument(toJson(c)).toJson(QJsonDocument::Indented);
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(text, &error);
    EXPECT_EQ(error.error, QJsonParseError::NoError) << str(error.errorString());
    EXPECT_TRUE(doc.isObject());
    return fromJson(doc.object(), "roundtrip.json");
}

// A valid config.json object to break in one place.
QJsonObject validJson() { return toJson(preset("bn-paper-mlp")); }

// A dataset with MNIST's shape and counts (60000 training, 10000 test images), all pixels zero, labels
// cycling 0..9: engine::validate() sees exactly what it sees with MNIST, without reading any file.
const Dataset& fakeMnist() {
    static const Dataset data = [] {
        auto images = [](Index n) {
            ImageSet s;
            s.shape = Shape{1, 28, 28};
            s.pixels.assign(std::size_t(n * 28 * 28), 0);
            for (Index i = 0; i < n; ++i) s.labels.push_back(std::uint8_t(i % 10));
            return s;
        };
        Dataset d;
        d.name = "fake-mnist";
        d.train = images(60000);
        d.test = images(10000);
        d.numClasses = 10;
        return d;
    }();
    return data;
}

// One non-default value per key, the text settingValue should give back, and a check of the field it sets.
struct KeySample {
    QString value;
    std::function<bool(const TrainOptions&)> isSet;
};

bool allLinear(const TrainOptions& t, const std::function<bool(const BlockSpec&)>& pred) {
    bool any = false;
    for (const BlockSpec& b : t.network.blocks) {
        if (!b.isLinear()) continue;
        any = true;
        if (!pred(b)) return false;
    }
    return any;
}

const std::map<QString, KeySample>& keySamples() {
    static const std::map<QString, KeySample> samples = {
        {"epochs", {"7", [](const TrainOptions& t) { return t.epochs == 7; }}},
        {"batch_size", {"32", [](const TrainOptions& t) { return t.batchSize == 32; }}},
        {"max_steps", {"123", [](const TrainOptions& t) { return t.maxSteps == 123; }}},
        {"learning_rate", {"0.25", [](const TrainOptions& t) { return t.optimizer.learningRate == 0.25f; }}},
        {"optimizer", {"adam", [](const TrainOptions& t) { return t.optimizer.kind == OptimizerKind::Adam; }}},
        {"momentum", {"0.9", [](const TrainOptions& t) { return t.optimizer.momentum == 0.9f; }}},
        {"adam_beta1", {"0.8", [](const TrainOptions& t) { return t.optimizer.beta1 == 0.8f; }}},
        {"adam_beta2", {"0.95", [](const TrainOptions& t) { return t.optimizer.beta2 == 0.95f; }}},
        {"adam_epsilon", {"1e-08", [](const TrainOptions& t) { return t.optimizer.adamEpsilon == 1e-8f; }}},
        {"weight_decay", {"0.25", [](const TrainOptions& t) { return t.optimizer.weightDecay == 0.25f; }}},
        {"bn_momentum", {"0.9", [](const TrainOptions& t) { return t.batchNorm.momentum == 0.9f; }}},
        {"bn_epsilon", {"1e-05", [](const TrainOptions& t) { return t.batchNorm.epsilon == 1e-5f; }}},
        {"norm", {"after", [](const TrainOptions& t) {
                      return allLinear(t, [](const BlockSpec& b) { return b.norm == NormPlacement::After; });
                  }}},
        {"norm_kind", {"layer", [](const TrainOptions& t) {
                           return allLinear(t, [](const BlockSpec& b) { return b.normKind == NormKind::Layer; });
                       }}},
        {"dropout", {"0.25", [](const TrainOptions& t) {
                         return allLinear(t, [](const BlockSpec& b) { return b.dropout == 0.25f; });
                     }}},
        {"group_norm_groups", {"8", [](const TrainOptions& t) { return t.batchNorm.groups == 8; }}},
        {"renorm_rmax", {"2", [](const TrainOptions& t) { return t.batchNorm.rMax == 2.0f; }}},
        {"renorm_dmax", {"0.5", [](const TrainOptions& t) { return t.batchNorm.dMax == 0.5f; }}},
        {"bn_noise", {"on", [](const TrainOptions& t) { return t.batchNorm.noise; }}},
        {"bn_noise_mean", {"0.25", [](const TrainOptions& t) { return t.batchNorm.noiseMean == 0.25f; }}},
        {"bn_noise_scale", {"3", [](const TrainOptions& t) { return t.batchNorm.noiseScale == 3.0f; }}},
        {"landscape_interval", {"20", [](const TrainOptions& t) { return t.landscapeInterval == 20; }}},
        {"activation", {"tanh", [](const TrainOptions& t) {
                            return allLinear(t, [](const BlockSpec& b) { return b.activation == ActivationKind::Tanh; });
                        }}},
        {"init", {"he", [](const TrainOptions& t) { return t.init.kind == InitKind::He; }}},
        {"init_scale", {"2.5", [](const TrainOptions& t) { return t.init.scale == 2.5f; }}},
        {"seed", {"18446744073709551615",
                  [](const TrainOptions& t) { return t.seed == std::numeric_limits<std::uint64_t>::max(); }}},
        {"validation_size", {"1000", [](const TrainOptions& t) { return t.validationSize == 1000; }}},
        {"train_size", {"2000", [](const TrainOptions& t) { return t.trainSize == 2000; }}},
        {"probe_interval", {"5", [](const TrainOptions& t) { return t.probeInterval == 5; }}},
        {"probe_batch_size", {"64", [](const TrainOptions& t) { return t.probeBatchSize == 64; }}},
        {"eval_interval", {"10", [](const TrainOptions& t) { return t.evalInterval == 10; }}},
        {"eval_batch_size", {"100", [](const TrainOptions& t) { return t.evalBatchSize == 100; }}},
        {"eval_statistics", {"batch", [](const TrainOptions& t) { return t.evalStatistics == EvalStatistics::Batch; }}},
        {"threads", {"3", [](const TrainOptions& t) { return t.threads == 3; }}},
    };
    return samples;
}

bool isBlockKey(const QString& name) { return name.startsWith("block.N."); }

}  // namespace

// --- applySetting / settingValue --------------------------------------------------------------------------

TEST(RunConfigKeys, EveryKeyHasANameRangeAndHelpAndIsListedOnce) {
    std::set<QString> seen;
    for (const auto& k : configKeys()) {
        EXPECT_FALSE(k.name.isEmpty());
        EXPECT_FALSE(k.range.isEmpty()) << str(k.name);
        EXPECT_FALSE(k.help.isEmpty()) << str(k.name);
        EXPECT_TRUE(seen.insert(k.name).second) << "listed twice: " << str(k.name);
    }
    for (const char* block : {"block.N.norm", "block.N.norm_kind", "block.N.activation", "block.N.size", "block.N.dropout"})
        EXPECT_TRUE(seen.count(block)) << block;
}

TEST(RunConfigKeys, EveryKeyRoundTripsThroughApplySettingAndSettingValue) {
    int tested = 0;
    for (const auto& k : configKeys()) {
        if (isBlockKey(k.name)) continue;
        const auto it = keySamples().find(k.name);
        ASSERT_NE(it, keySamples().end()) << "no sample value for key '" << str(k.name) << "': add one to this test";
        const KeySample& sample = it->second;
        RunConfig c = preset("bn-paper-mlp");
        ASSERT_FALSE(sample.isSet(c.train)) << str(k.name) << ": the sample must differ from the preset's value";
        ASSERT_NE(settingValue(c, k.name), sample.value) << str(k.name);
        ASSERT_NO_THROW(applySetting(c, k.name, sample.value)) << str(k.name);
        EXPECT_TRUE(sample.isSet(c.train)) << str(k.name) << "=" << str(sample.value) << " did not set its field";
        EXPECT_EQ(str(settingValue(c, k.name)), str(sample.value)) << str(k.name);
        ++tested;
    }
    EXPECT_EQ(tested, int(keySamples().size())) << "a sample names a key that configKeys() does not list";
}

TEST(RunConfigKeys, KeyEqualsValueFormSetsTheSameAsTwoArguments) {
    RunConfig c = preset("bn-paper-mlp");
    applySetting(c, QString("batch_size=32"));
    EXPECT_EQ(c.train.batchSize, 32);
    applySetting(c, QString("learning_rate=0.5"));
    EXPECT_EQ(c.train.optimizer.learningRate, 0.5f);
    EXPECT_THAT(configErrorOf([&] { applySetting(c, QString("batch_size")); }), HasSubstr("KEY=VALUE"));
    EXPECT_THAT(configErrorOf([&] { applySetting(c, QString("=3")); }), HasSubstr("KEY=VALUE"));
}

TEST(RunConfigKeys, SettingValueOfAnUnknownKeyIsEmpty) {
    EXPECT_TRUE(settingValue(preset("bn-paper-mlp"), "no_such_key").isEmpty());
}

TEST(RunConfigKeys, BlockKeysChangeOnlyTheAddressedLinearBlock) {
    // keras-cnn: conv, conv, maxpool, flatten, dense. block.N counts the dense/conv blocks only.
    const RunConfig original = preset("keras-cnn");
    ASSERT_EQ(original.train.network.blocks.size(), 5u);
    ASSERT_EQ(original.train.network.blocks[4].kind, BlockKind::Dense);

    RunConfig c = original;
    applySetting(c, "block.3.size", "64");
    RunConfig expected = original;
    expected.train.network.blocks[4].size = 64;
    EXPECT_TRUE(c.train.network == expected.train.network) << describe(c.train.network);

    c = original;
    applySetting(c, "block.1.norm", "before");
    expected = original;
    expected.train.network.blocks[0].norm = NormPlacement::Before;
    ASSERT_NE(original.train.network.blocks[0].norm, NormPlacement::Before);
    EXPECT_TRUE(c.train.network == expected.train.network) << describe(c.train.network);

    c = original;
    applySetting(c, "block.2.activation", "tanh");
    expected = original;
    expected.train.network.blocks[1].activation = ActivationKind::Tanh;
    EXPECT_TRUE(c.train.network == expected.train.network) << describe(c.train.network);

    c = original;
    applySetting(c, "block.3.activation", "none");
    EXPECT_FALSE(c.train.network.blocks[4].activation.has_value());
    EXPECT_EQ(c.train.network.blocks[0].activation, ActivationKind::ReLU);
}

TEST(RunConfigKeys, BlockKeysOutOfRangeNameTheKeyAndTheCount) {
    RunConfig c = preset("keras-cnn");  // 3 dense/conv blocks
    for (const char* key : {"block.0.norm", "block.4.norm", "block.99.size"}) {
        const std::string msg = configErrorOf([&] { applySetting(c, key, "none"); });
        EXPECT_THAT(msg, StartsWith(std::string(key) + ":"));
        EXPECT_THAT(msg, HasSubstr("3"));
    }
    EXPECT_TRUE(c.train.network == preset("keras-cnn").train.network);
}

TEST(RunConfigKeys, BadBlockValuesNameTheBlockKey) {
    RunConfig c = preset("keras-cnn");
    for (const auto& [key, value] : std::map<std::string, std::string>{
             {"block.2.norm", "sideways"}, {"block.2.activation", "swish"}, {"block.2.size", "big"}}) {
        const std::string msg = configErrorOf([&] { applySetting(c, QString::fromStdString(key), QString::fromStdString(value)); });
        EXPECT_THAT(msg, StartsWith(key + ":")) << "the message must name the key the user typed";
        EXPECT_THAT(msg, HasSubstr(value));
    }
}

TEST(RunConfigKeys, NormAndActivationChangeEveryDenseAndConvBlockButNotPoolOrFlatten) {
    const RunConfig original = preset("keras-cnn-nobn");
    RunConfig c = original;
    applySetting(c, "norm", "after");
    applySetting(c, "activation", "sigmoid");
    ASSERT_EQ(c.train.network.blocks.size(), original.train.network.blocks.size());
    int linear = 0;
    for (std::size_t i = 0; i < c.train.network.blocks.size(); ++i) {
        const BlockSpec& b = c.train.network.blocks[i];
        if (b.isLinear()) {
            ++linear;
            EXPECT_EQ(b.norm, NormPlacement::After) << "block " << i;
            EXPECT_EQ(b.activation, ActivationKind::Sigmoid) << "block " << i;
        } else {
            EXPECT_TRUE(b == original.train.network.blocks[i]) << "block " << i << " (" << toString(b.kind) << ") changed";
        }
    }
    EXPECT_EQ(linear, 3);
    EXPECT_EQ(str(settingValue(c, "norm")), "after");
    EXPECT_EQ(str(settingValue(c, "activation")), "sigmoid");

    applySetting(c, "block.2.norm", "before");
    EXPECT_EQ(str(settingValue(c, "norm")), "mixed");
}

TEST(RunConfigKeys, UnknownKeyIsAConfigErrorNamingIt) {
    RunConfig c = preset("bn-paper-mlp");
    EXPECT_THAT(configErrorOf([&] { applySetting(c, "batchsize", "32"); }), HasSubstr("'batchsize'"));
    EXPECT_THAT(configErrorOf([&] { applySetting(c, "block.1.colour", "red"); }), HasSubstr("'block.1.colour'"));
    EXPECT_THAT(configErrorOf([&] { applySetting(c, QString("learningrate=0.1")); }), HasSubstr("'learningrate'"));
}

TEST(RunConfigKeys, MalformedValuesAreConfigErrorsStartingWithTheKey) {
    const std::map<std::string, std::string> bad = {
        {"batch_size", "abc"}, {"epochs", "1.5"}, {"learning_rate", "x"}, {"norm", "sideways"},
        {"seed", "-1"},        {"optimizer", "rmsprop"}, {"init", "zeros"}, {"activation", "swish"},
        {"max_steps", "ten"},  {"threads", "99999999999"}, {"bn_noise", "yes"}, {"bn_noise_scale", "big"},
        {"landscape_interval", "1.5"},
    };
    for (const auto& [key, value] : bad) {
        RunConfig c = preset("bn-paper-mlp");
        const std::string msg =
            configErrorOf([&] { applySetting(c, QString::fromStdString(key), QString::fromStdString(value)); });
        EXPECT_THAT(msg, StartsWith(key + ":")) << key << "=" << value;
        EXPECT_THAT(msg, HasSubstr(value)) << key << "=" << value;
        expectSameOptions(c.train, preset("bn-paper-mlp").train);  // nothing half-applied
    }
}

// --- toJson / fromJson -----------------------------------------------------------------------------------

TEST(RunConfigJson, HasFormatVersionPresetAndEveryKey) {
    const QJsonObject o = toJson(preset("keras-cnn"));
    EXPECT_EQ(str(o.value("format").toString()), "bnlab-config");
    EXPECT_EQ(o.value("version").toInt(), 1);
    EXPECT_EQ(str(o.value("preset").toString()), "keras-cnn");
    for (const auto& k : configKeys()) {
        // norm, norm_kind, activation and dropout are stored per block; per-block keys are the network.
        if (isBlockKey(k.name) || k.name == "norm" || k.name == "norm_kind" || k.name == "activation" ||
            k.name == "dropout")
            continue;
        EXPECT_TRUE(o.contains(k.name)) << str(k.name);
    }
    ASSERT_TRUE(o.value("network").toObject().value("blocks").isArray());
    EXPECT_EQ(o.value("network").toObject().value("blocks").toArray().size(), 5);
}

TEST(RunConfigJson, EveryPresetRoundTripsExactly) {
    for (const auto& p : presets()) {
        SCOPED_TRACE(str(p.name));
        const RunConfig back = throughJsonText(p.config);
        EXPECT_EQ(str(back.preset), str(p.config.preset));
        expectSameOptions(back.train, p.config.train);
        // And in memory, without the text step.
        expectSameOptions(fromJson(toJson(p.config), "memory").train, p.config.train);
    }
}

TEST(RunConfigJson, ManyChangedSettingsRoundTripExactly) {
    RunConfig c = preset("keras-cnn");
    for (const char* kv : {"epochs=3", "batch_size=50", "max_steps=777", "learning_rate=0.1", "optimizer=sgd",
                           "momentum=0.9", "adam_beta1=0.85", "adam_beta2=0.9999", "adam_epsilon=1e-08",
                           "weight_decay=0.0005", "bn_momentum=0.9", "bn_epsilon=1e-05", "init=gaussian",
                           "init_scale=0.3", "seed=18446744073709551615", "validation_size=1234", "train_size=4321",
                           "probe_interval=7", "probe_batch_size=33", "eval_interval=11", "eval_batch_size=99",
                           "eval_statistics=batch", "threads=2", "block.1.norm=before", "block.2.norm=none",
                           "block.3.activation=tanh",
                           "block.3.size=77", "block.1.size=8", "block.1.norm_kind=group", "block.3.norm_kind=renorm",
                           "block.1.dropout=0.5", "block.3.dropout=0.1", "group_norm_groups=4", "renorm_rmax=2.5",
                           "renorm_dmax=0.75"})
        applySetting(c, QString(kv));
    c.preset = "my-own";
    const RunConfig back = throughJsonText(c);
    EXPECT_EQ(str(back.preset), "my-own");
    expectSameOptions(back.train, c.train);
}

TEST(RunConfigJson, FloatsRoundTripExactly) {
    RunConfig c = preset("bn-paper-mlp");
    applySetting(c, "learning_rate", "0.1");
    EXPECT_EQ(c.train.optimizer.learningRate, 0.1f);
    EXPECT_EQ(str(settingValue(c, "learning_rate")), "0.1");  // not 0.100000001
    EXPECT_EQ(throughJsonText(c).train.optimizer.learningRate, 0.1f);

    for (float v : {0.1f, 0.3f, 1.0f / 3.0f, 0.7f, 1e-7f, 1e-30f, 3.0e38f, 123456.789f, 2.0f / 3.0f}) {
        RunConfig d = preset("bn-paper-mlp");
        d.train.optimizer.learningRate = v;
        d.train.batchNorm.epsilon = v;
        d.train.init.scale = v;
        const RunConfig back = throughJsonText(d);
        EXPECT_EQ(back.train.optimizer.learningRate, v);
        EXPECT_EQ(back.train.batchNorm.epsilon, v);
        EXPECT_EQ(back.train.init.scale, v);
        // And through the text settingValue gives, as the GUI and --help show it.
        RunConfig e = preset("bn-paper-mlp");
        applySetting(e, "learning_rate", settingValue(d, "learning_rate"));
        EXPECT_EQ(e.train.optimizer.learningRate, v);
    }
}

TEST(RunConfigJson, RejectsAWrongFormat) {
    QJsonObject o = validJson();
    o["format"] = "bnlab-summary";
    EXPECT_THAT(configErrorOf([&] { (void)fromJson(o, "a.json"); }), AllOf(StartsWith("a.json:"), HasSubstr("format")));
    o.remove("format");
    EXPECT_THAT(configErrorOf([&] { (void)fromJson(o, "a.json"); }), AllOf(StartsWith("a.json:"), HasSubstr("format")));
}

TEST(RunConfigJson, RejectsAWrongVersion) {
    for (const QJsonValue& v : {QJsonValue(2), QJsonValue(0), QJsonValue(1.5), QJsonValue("1"), QJsonValue()}) {
        QJsonObject o = validJson();
        if (v.isNull()) o.remove("version");
        else o["version"] = v;
        EXPECT_THAT(configErrorOf([&] { (void)fromJson(o, "b.json"); }),
                    AllOf(StartsWith("b.json:"), HasSubstr("version")));
    }
}

TEST(RunConfigJson, RejectsAnUnknownKeyNamingSourceAndKey) {
    QJsonObject o = validJson();
    o["learningrate"] = 0.1;
    const std::string msg = configErrorOf([&] { (void)fromJson(o, "runs/x/config.json"); });
    EXPECT_THAT(msg, StartsWith("runs/x/config.json:"));
    EXPECT_THAT(msg, HasSubstr("learningrate"));
}

TEST(RunConfigJson, RejectsBadValuesNamingSourceAndKey) {
    const std::map<std::string, QJsonValue> bad = {
        {"batch_size", QJsonValue("abc")}, {"epochs", QJsonValue(1.5)}, {"learning_rate", QJsonValue(true)},
        {"optimizer", QJsonValue("rmsprop")}, {"seed", QJsonValue("-1")}, {"threads", QJsonValue(QJsonArray{1})},
    };
    for (const auto& [key, value] : bad) {
        QJsonObject o = validJson();
        o[QString::fromStdString(key)] = value;
        const std::string msg = configErrorOf([&] { (void)fromJson(o, "c.json"); });
        EXPECT_THAT(msg, StartsWith("c.json: " + key + ":")) << key;
    }
}

TEST(RunConfigJson, RejectsABlockWithAnUnknownKind) {
    QJsonObject o = validJson();
    QJsonObject network = o.value("network").toObject();
    QJsonArray blocks = network.value("blocks").toArray();
    QJsonObject b = blocks[1].toObject();
    b["kind"] = "transformer";
    blocks[1] = b;
    network["blocks"] = blocks;
    o["network"] = network;
    const std::string msg = configErrorOf([&] { (void)fromJson(o, "d.json"); });
    EXPECT_THAT(msg, StartsWith("d.json:"));
    EXPECT_THAT(msg, HasSubstr("network.blocks[1]"));
    EXPECT_THAT(msg, HasSubstr("transformer"));
}

TEST(RunConfigJson, RejectsBadBlockFields) {
    const std::vector<std::pair<QString, QJsonValue>> bad = {
        {"size", QJsonValue(1.5)}, {"size", QJsonValue("100")}, {"norm", QJsonValue("sideways")},
        {"activation", QJsonValue("swish")}, {"colour", QJsonValue("red")}, {"norm_kind", QJsonValue("instance")},
        {"dropout", QJsonValue("half")}};
    for (const auto& [field, value] : bad) {
        QJsonObject o = validJson();
        QJsonObject network = o.value("network").toObject();
        QJsonArray blocks = network.value("blocks").toArray();
        QJsonObject b = blocks[0].toObject();
        b[field] = value;
        blocks[0] = b;
        network["blocks"] = blocks;
        o["network"] = network;
        const std::string msg = configErrorOf([&] { (void)fromJson(o, "e.json"); });
        EXPECT_THAT(msg, StartsWith("e.json: network.blocks[0]:")) << str(field);
        EXPECT_THAT(msg, HasSubstr(str(field))) << str(field);
    }
    QJsonObject o = validJson();
    o["network"] = QJsonObject{{"blocks", QJsonArray{42}}};
    EXPECT_THAT(configErrorOf([&] { (void)fromJson(o, "e.json"); }), StartsWith("e.json: network.blocks[0]"));
}

TEST(RunConfigJson, RejectsNetworkBlocksThatAreNotAnArray) {
    for (const QJsonValue& v : {QJsonValue(QJsonObject{{"kind", "dense"}}), QJsonValue("dense 100"), QJsonValue(3)}) {
        QJsonObject o = validJson();
        o["network"] = QJsonObject{{"blocks", v}};
        EXPECT_THAT(configErrorOf([&] { (void)fromJson(o, "f.json"); }),
                    AllOf(StartsWith("f.json:"), HasSubstr("network.blocks")));
    }
    QJsonObject o = validJson();
    o["network"] = QJsonObject{};
    EXPECT_THAT(configErrorOf([&] { (void)fromJson(o, "f.json"); }), HasSubstr("network.blocks"));
}

// --- loadConfigFile --------------------------------------------------------------------------------------

// --- norm kinds and Dropout -------------------------------------------------------------------------------

TEST(RunConfigNormKinds, BlockKeysSetTheKindAndTheDropoutOfOneBlock) {
    const RunConfig original = preset("keras-cnn");
    RunConfig c = original;
    applySetting(c, "block.2.norm_kind", "group");
    applySetting(c, "block.3.dropout", "0.5");
    RunConfig expected = original;
    expected.train.network.blocks[1].normKind = NormKind::Group;
    expected.train.network.blocks[4].dropout = 0.5f;
    EXPECT_TRUE(c.train.network == expected.train.network) << describe(c.train.network);
    EXPECT_EQ(str(settingValue(c, "norm_kind")), "mixed");
    EXPECT_EQ(str(settingValue(c, "dropout")), "mixed");
    EXPECT_THAT(describe(c.train.network), HasSubstr("gn-after"));
    EXPECT_THAT(describe(c.train.network), HasSubstr("dropout 0.5"));
    applySetting(c, "norm_kind", "renorm");
    applySetting(c, "dropout", "0");
    EXPECT_EQ(str(settingValue(c, "norm_kind")), "renorm");
    EXPECT_EQ(str(settingValue(c, "dropout")), "0");
    EXPECT_EQ(c.train.network.blocks[2].normKind, NormKind::Batch);  // the max-pool block is left alone
}

TEST(RunConfigNormKinds, GroupNormForEveryBlockIsLayerNormInDenseBlocks) {
    RunConfig c = preset("keras-cnn");  // conv, conv, maxpool, flatten, dense
    applySetting(c, "norm_kind", "group");
    EXPECT_EQ(c.train.network.blocks[0].normKind, NormKind::Group);
    EXPECT_EQ(c.train.network.blocks[1].normKind, NormKind::Group);
    EXPECT_EQ(c.train.network.blocks[4].normKind, NormKind::Layer);
    EXPECT_EQ(str(settingValue(c, "norm_kind")), "group");
    EXPECT_NO_THROW(validate(c.train, fakeMnist()));
    applySetting(c, "block.3.norm_kind", "group");  // asked for explicitly: refused when the run starts
    EXPECT_THAT(configErrorOf([&] { validate(c.train, fakeMnist()); }), HasSubstr("norm_kind layer"));
}

TEST(RunConfigNormKinds, BadValuesNameTheKey) {
    RunConfig c = preset("keras-cnn");
    for (const auto& [key, value] : std::map<std::string, std::string>{{"block.2.norm_kind", "instance"},
                                                                       {"norm_kind", "weight"},
                                                                       {"block.1.dropout", "half"},
                                                                       {"dropout", "lots"},
                                                                       {"group_norm_groups", "1.5"},
                                                                       {"renorm_rmax", "big"}}) {
        const std::string msg =
            configErrorOf([&] { applySetting(c, QString::fromStdString(key), QString::fromStdString(value)); });
        EXPECT_THAT(msg, StartsWith(key + ":"));
        EXPECT_THAT(msg, HasSubstr(value));
    }
    expectSameOptions(c.train, preset("keras-cnn").train);
}

TEST(RunConfigNormKinds, AConfigFileWithoutTheNewKeysLoadsAsBatchNormWithoutDropout) {
    RunConfig changed = preset("keras-cnn");
    for (const char* kv : {"norm_kind=layer", "dropout=0.3", "group_norm_groups=2", "renorm_rmax=1.5", "renorm_dmax=1"})
        applySetting(changed, QString(kv));
    QJsonObject o = toJson(changed);
    for (const char* key : {"group_norm_groups", "renorm_rmax", "renorm_dmax"}) {
        ASSERT_TRUE(o.contains(key)) << key;
        o.remove(key);
    }
    QJsonObject network = o.value("network").toObject();
    QJsonArray blocks = network.value("blocks").toArray();
    int stripped = 0;
    for (int i = 0; i < blocks.size(); ++i) {
        QJsonObject b = blocks[i].toObject();
        stripped += b.contains("norm_kind") + b.contains("dropout");
        b.remove("norm_kind");
        b.remove("dropout");
        blocks[i] = b;
    }
    EXPECT_EQ(stripped, 6);  // both keys in each of the 3 dense/conv blocks
    network["blocks"] = blocks;
    o["network"] = network;
    const RunConfig old = fromJson(o, "old.json");
    expectSameOptions(old.train, preset("keras-cnn").train);
}

TEST(RunConfigEvalStatistics, IsWrittenToJsonReadBackAndAbsentMeansRunning) {
    RunConfig c = preset("bn-paper-mlp");
    EXPECT_EQ(c.train.evalStatistics, EvalStatistics::Running);
    EXPECT_EQ(str(toJson(c).value("eval_statistics").toString()), "running");
    applySetting(c, "eval_statistics", "batch");
    QJsonObject o = toJson(c);
    EXPECT_EQ(str(o.value("eval_statistics").toString()), "batch");
    EXPECT_EQ(throughJsonText(c).train.evalStatistics, EvalStatistics::Batch);
    // A config.json written before the key existed loads as running statistics.
    o.remove("eval_statistics");
    EXPECT_EQ(fromJson(o, "old.json").train.evalStatistics, EvalStatistics::Running);
}

TEST(RunConfigEvalStatistics, BadValuesNameTheKeyAndItCannotChangeDuringARun) {
    RunConfig c = preset("bn-paper-mlp");
    EXPECT_THAT(configErrorOf([&] { applySetting(c, "eval_statistics", "train"); }),
                AllOf(StartsWith("eval_statistics:"), HasSubstr("'train'"), HasSubstr("running or batch")));
    EXPECT_EQ(c.train.evalStatistics, EvalStatistics::Running);
    EXPECT_THAT(configErrorOf([&] { (void)bnlab::app::liveChange(c, "eval_statistics", "batch"); }),
                AllOf(StartsWith("eval_statistics:"), HasSubstr("cannot change during a run")));
}

TEST(RunConfigNormKinds, TheKindCannotChangeDuringARun) {
    const RunConfig c = preset("bn-paper-mlp");
    for (const auto& [key, value] : std::map<std::string, std::string>{
             {"block.1.norm_kind", "layer"}, {"norm_kind", "group"}, {"block.1.dropout", "0.5"}, {"renorm_rmax", "2"}}) {
        const std::string msg = configErrorOf(
            [&] { (void)bnlab::app::liveChange(c, QString::fromStdString(key), QString::fromStdString(value)); });
        EXPECT_THAT(msg, AllOf(StartsWith(key + ":"), HasSubstr("cannot change during a run")));
    }
}

TEST(RunConfigFile, LoadsWhatToJsonWrote) {
    QTemporaryDir tmp;
    ASSERT_TRUE(tmp.isValid());
    const QString path = tmp.filePath("config.json");
    RunConfig c = preset("keras-cnn");
    applySetting(c, "learning_rate", "0.1");
    QFile f(path);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write(QJsonDocument(toJson(c)).toJson());
    f.close();
    const RunConfig back = loadConfigFile(path);
    EXPECT_EQ(str(back.preset), "keras-cnn");
    expectSameOptions(back.train, c.train);
}

TEST(RunConfigFile, MissingFileIsAnErrorNamingIt) {
    QTemporaryDir tmp;
    ASSERT_TRUE(tmp.isValid());
    const QString path = tmp.filePath("nope/config.json");
    const std::string msg = errorOf([&] { (void)loadConfigFile(path); });
    EXPECT_THAT(msg, StartsWith(str(path) + ":"));
    EXPECT_THAT(msg, HasSubstr("cannot open"));
}

TEST(RunConfigFile, InvalidJsonIsAnErrorNamingTheFile) {
    QTemporaryDir tmp;
    ASSERT_TRUE(tmp.isValid());
    const QString path = tmp.filePath("broken.json");
    QFile f(path);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("{\"format\": \"bnlab-config\", \"version\": 1,");
    f.close();
    const std::string msg = errorOf([&] { (void)loadConfigFile(path); });
    EXPECT_THAT(msg, StartsWith(str(path) + ":"));
    EXPECT_THAT(msg, HasSubstr("not valid JSON"));
}

TEST(RunConfigFile, AJsonArrayIsAnErrorNamingTheFile) {
    QTemporaryDir tmp;
    ASSERT_TRUE(tmp.isValid());
    const QString path = tmp.filePath("array.json");
    QFile f(path);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("[{\"format\": \"bnlab-config\", \"version\": 1}]");
    f.close();
    const std::string msg = errorOf([&] { (void)loadConfigFile(path); });
    EXPECT_THAT(msg, StartsWith(str(path) + ":"));
    EXPECT_THAT(msg, HasSubstr("object"));
}

// --- presets ---------------------------------------------------------------------------------------------

TEST(Presets, AreTheFourDocumentedOnes) {
    std::vector<std::string> names;
    for (const auto& p : presets()) {
        names.push_back(str(p.name));
        EXPECT_EQ(str(p.config.preset), str(p.name));
        EXPECT_FALSE(p.description.isEmpty()) << str(p.name);
        EXPECT_EQ(&findPreset(p.name), &p);
    }
    EXPECT_THAT(names, ::testing::ElementsAre("bn-paper-mlp", "bn-paper-mlp-nobn", "keras-cnn", "keras-cnn-nobn"));
    EXPECT_EQ(str(bnlab::app::defaultPresetName()), "bn-paper-mlp");
}

TEST(Presets, UnknownNameIsAConfigErrorListingTheKnownOnes) {
    const std::string msg = configErrorOf([] { (void)findPreset("resnet-50"); });
    EXPECT_THAT(msg, HasSubstr("resnet-50"));
    for (const auto& p : presets()) EXPECT_THAT(msg, HasSubstr(str(p.name)));
}

TEST(Presets, EachValidatesAgainstAnMnistShapedDataset) {
    for (const auto& p : presets()) EXPECT_NO_THROW(validate(p.config.train, fakeMnist())) << str(p.name);
}

TEST(Presets, TheFakeDatasetCanFailValidation) {
    // The check above is not vacuous: the same dataset rejects a preset with a bad setting.
    RunConfig c = preset("bn-paper-mlp");
    applySetting(c, "batch_size", "0");
    EXPECT_THROW(validate(c.train, fakeMnist()), ConfigError);
}

TEST(Presets, NoBnTwinsDifferFromTheirPresetOnlyInNorm) {
    for (const char* name : {"bn-paper-mlp", "keras-cnn"}) {
        SCOPED_TRACE(name);
        const RunConfig& withBn = findPreset(name).config;
        const RunConfig& twin = findPreset(QString(name) + "-nobn").config;
        bool hadBn = false;
        for (const BlockSpec& b : withBn.train.network.blocks) hadBn = hadBn || b.norm != NormPlacement::None;
        EXPECT_TRUE(hadBn) << "the preset itself should use Batch Normalization";
        for (const BlockSpec& b : twin.train.network.blocks) EXPECT_EQ(b.norm, NormPlacement::None);
        // Remove BN from the preset: what remains must be the twin, field for field.
        TrainOptions stripped = withBn.train;
        for (BlockSpec& b : stripped.network.blocks) b.norm = NormPlacement::None;
        expectSameOptions(twin.train, stripped);
        // And the same through the public key.
        RunConfig viaKey = withBn;
        applySetting(viaKey, "norm", "none");
        expectSameOptions(twin.train, viaKey.train);
    }
}

TEST(SettingDifferences, NamesEachChangedSettingOnceInWordsPeopleUse) {
    const RunConfig base = preset("bn-paper-mlp");
    EXPECT_TRUE(bnlab::app::settingDifferences(base, base).isEmpty());

    RunConfig other = base;
    applySetting(other, "norm", "none");
    applySetting(other, "batch_size", "8");
    applySetting(other, "seed", "2");
    EXPECT_EQ(bnlab::app::settingDifferences(base, other),
              (QStringList{"batch 60 → 8", "BN before → none", "seed 1 → 2"}));
    // And the other way round.
    EXPECT_EQ(bnlab::app::settingDifferences(other, base),
              (QStringList{"batch 8 → 60", "BN none → before", "seed 2 → 1"}));
}

TEST(SettingDifferences, ABlockOnItsOwnIsNamedByItsNumber) {
    const RunConfig base = preset("keras-cnn");
    RunConfig other = base;
    applySetting(other, "block.2.norm", "before");
    applySetting(other, "block.3.size", "64");
    EXPECT_EQ(bnlab::app::settingDifferences(base, other),
              (QStringList{"block 2 BN after → before", "block 3 size 128 → 64"}));
}

TEST(SettingDifferences, AnotherNetworkAndPlannedChangesAreNamed) {
    const RunConfig mlp = preset("bn-paper-mlp");
    const RunConfig cnn = preset("keras-cnn");
    const QStringList d = bnlab::app::settingDifferences(mlp, cnn);
    ASSERT_FALSE(d.isEmpty());
    EXPECT_EQ(d.front(), "network bn-paper-mlp → keras-cnn");
    for (const QString& s : d) EXPECT_FALSE(s.startsWith("BN ")) << s.toStdString();  // per-block keys are not compared

    RunConfig planned = mlp;
    bnlab::app::addScheduledChange(planned, "500:learning_rate=1");
    EXPECT_EQ(bnlab::app::settingDifferences(mlp, planned), QStringList{"at 500:learning_rate=1"});
    EXPECT_EQ(bnlab::app::settingDifferences(planned, mlp), QStringList{"not at 500:learning_rate=1"});
}

TEST(SettingDifferences, BookkeepingIsLeftOutAndABlockWideKindIsNamedOnce) {
    const RunConfig base = preset("bn-paper-mlp");
    RunConfig other = base;
    applySetting(other, "probe_interval", "7");
    applySetting(other, "eval_interval", "9");
    applySetting(other, "threads", "1");
    EXPECT_TRUE(bnlab::app::settingDifferences(base, other).isEmpty()) << "how often it is measured is not a difference";
    applySetting(other, "norm_kind", "layer");
    EXPECT_EQ(bnlab::app::settingDifferences(base, other), QStringList{"norm_kind batch → layer"});
    applySetting(other, "block.2.dropout", "0.5");
    EXPECT_EQ(bnlab::app::settingDifferences(base, other), (QStringList{"norm_kind batch → layer", "block 2 dropout 0 → 0.5"}));
}

TEST(SettingDifferences, EvalStatisticsIsADifferenceThoughTrainingIsTheSame) {
    const RunConfig base = preset("bn-paper-mlp");
    RunConfig other = base;
    applySetting(other, "eval_statistics", "batch");
    EXPECT_EQ(bnlab::app::settingDifferences(base, other), QStringList{"BN evaluated with running → batch"});
}
