// Changes made while a run trains (the window's mid-run controls):
// - Network::removeBatchNorm folds a BN layer into the adjacent Dense/Conv2D so that the Eval-mode outputs
//   are unchanged (≤ 1e-5), for BN before the activation (into the preceding layer) and after it (into the
//   next one, through max-pooling and flattening), and refuses, changing nothing, where no exact fold exists;
// - Network::insertBatchNorm adds a BN layer that is the identity on the current batch in both modes;
// - Optimizer::rebind keeps the state of kept parameters and starts new ones fresh;
// - Trainer::requestChange applies learning rate, BN momentum, batch size and BN placement between steps:
//   a change before the first step gives exactly the run configured that way from the start, a change after
//   step k leaves steps 1..k identical, and every change is reported (applied or refused with the reason).

#include "gradient_check.h"
#include "recording_sink.h"
#include "test_data.h"

#include "batch_norm.h"
#include "error.h"
#include "network.h"
#include "optimizer.h"
#include "trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace bnlab::test {
namespace {

using namespace bnlab::engine;

constexpr int kClasses = 3;
constexpr int kBatch = 8;
const Shape kMlpInput{12, 1, 1};
const Shape kCnnInput{1, 8, 8};

BlockSpec conv(int filters, NormPlacement norm, int padding = 0) {
    BlockSpec b = convBlock(filters, 3, ActivationKind::ReLU, norm);
    b.padding = padding;
    return b;
}

Network mlp(NormPlacement norm) {
    NetworkSpec spec{{denseBlock(7, ActivationKind::Sigmoid, norm), denseBlock(5, ActivationKind::Sigmoid, norm)}};
    return Network(spec, kMlpInput, kClasses, {}, InitOptions{InitKind::Glorot, 1.0f}, 1);
}

// conv 3, conv 4, maxpool 2, flatten, dense 6 (ReLU): BN after each ReLU is followed by a conv, a max-pool
// and the output Dense layer, the three fold paths.
Network cnn(NormPlacement norm) {
    NetworkSpec spec{{conv(3, norm), conv(4, norm), maxPoolBlock(2), flattenBlock(),
                      denseBlock(6, ActivationKind::ReLU, norm)}};
    return Network(spec, kCnnInput, kClasses, {}, InitOptions{InitKind::He, 1.0f}, 1);
}

// Gives every BN layer non-trivial γ, β and running statistics, as after some training (γ > 0).
void trainLikeStatistics(Network& net, std::uint64_t seed) {
    for (BatchNorm* bn : net.batchNormLayers()) {
        const Index f = bn->features();
        bn->gamma() = randomMatrix(1, f, seed++, 0.5, 1.5);
        bn->beta() = randomMatrix(1, f, seed++, -0.5, 0.5);
        bn->runningMean() = randomMatrix(f, 1, seed++, -0.3, 0.6);
        bn->runningVar() = randomMatrix(f, 1, seed++, 0.05, 2.0);
    }
    for (const NamedParam& p : net.params())
        if (p.name.ends_with(".bias")) *p.param.value = randomMatrix(1, p.param.value->cols(), seed++, -0.2, 0.2);
}

Matrix evalOutput(Network& net, const Matrix& x) { return net.forward(x, Mode::Eval); }

double maxAbsDiff(const Matrix& a, const Matrix& b) { return (a - b).cwiseAbs().maxCoeff(); }

std::vector<std::string> layerNames(const Network& net) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < net.layers().size(); ++i) names.push_back(net.layerName(int(i)));
    return names;
}

// The block indices the probes use must point at the right layers after a change.
void expectBlocksConsistent(Network& net) {
    for (const BlockInfo& b : net.blocks()) {
        SCOPED_TRACE(b.name);
        if (b.linear >= 0) {
            EXPECT_TRUE(net.layer(b.linear).kind() == "dense" || net.layer(b.linear).kind() == "conv2d");
        }
        if (b.norm >= 0) {
            EXPECT_EQ(net.layer(b.norm).kind(), "batchnorm");
        }
        if (b.activation >= 0) {
            EXPECT_TRUE(net.layer(b.activation).kind() == "relu" || net.layer(b.activation).kind() == "sigmoid");
        }
        EXPECT_LE(b.first, b.last);
        EXPECT_GE(b.preActivation, b.first);
        EXPECT_LE(b.postActivation, b.last);
        if (b.activation >= 0) {
            EXPECT_EQ(b.postActivation, b.activation);
            EXPECT_EQ(b.preActivation, b.activation - 1);
        }
    }
    for (std::size_t i = 1; i < net.blocks().size(); ++i) EXPECT_EQ(net.blocks()[i].first, net.blocks()[i - 1].last + 1);
    EXPECT_EQ(net.blocks().back().last, int(net.layers().size()) - 1);
}

// ---- Folding BN away ------------------------------------------------------------------------------------

TEST(BatchNormFold, BeforeTheActivationFoldsIntoThePrecedingDenseWithTheSameEvalOutputs) {
    Network net = mlp(NormPlacement::Before);
    trainLikeStatistics(net, 10);
    const Matrix x = randomMatrix(kBatch, kMlpInput.size(), 11);
    const Matrix before = evalOutput(net, x);
    for (int block = 0; block < 2; ++block) {
        const std::string message = net.removeBatchNorm(block);
        EXPECT_NE(message.find("bn" + std::to_string(block + 1)), std::string::npos) << message;
        EXPECT_NE(message.find("dense" + std::to_string(block + 1)), std::string::npos) << message;
        EXPECT_EQ(net.normPlacement(block), NormPlacement::None);
        EXPECT_LE(maxAbsDiff(evalOutput(net, x), before), 1e-5) << "after folding block " << block + 1;
        expectBlocksConsistent(net);
    }
    EXPECT_EQ(layerNames(net), (std::vector<std::string>{"dense1", "sigmoid1", "dense2", "sigmoid2", "output"}));
    EXPECT_EQ(net.batchNormLayerCount(), 0);
    for (const NamedParam& p : net.params()) EXPECT_EQ(p.name.find("bn"), std::string::npos) << p.name;
}

TEST(BatchNormFold, BeforeTheActivationFoldsIntoThePrecedingConv) {
    Network net = cnn(NormPlacement::Before);
    trainLikeStatistics(net, 20);
    const Matrix x = randomMatrix(kBatch, kCnnInput.size(), 21);
    const Matrix before = evalOutput(net, x);
    for (int block : {4, 0, 1}) {  // in any order
        (void)net.removeBatchNorm(block);
        EXPECT_LE(maxAbsDiff(evalOutput(net, x), before), 1e-5) << "after folding block " << block + 1;
        expectBlocksConsistent(net);
    }
    EXPECT_EQ(net.batchNormLayerCount(), 0);
}

TEST(BatchNormFold, AfterTheActivationFoldsIntoTheNextConvThroughPoolingAndIntoTheOutputLayer) {
    Network net = cnn(NormPlacement::After);
    trainLikeStatistics(net, 30);
    const Matrix x = randomMatrix(kBatch, kCnnInput.size(), 31);
    const Matrix before = evalOutput(net, x);
    const std::map<int, std::string> into = {{0, "conv2"}, {1, "dense1"}, {4, "output"}};
    for (const auto& [block, target] : into) {
        const std::string message = net.removeBatchNorm(block);
        EXPECT_NE(message.find(target), std::string::npos) << message;
        EXPECT_LE(maxAbsDiff(evalOutput(net, x), before), 1e-5) << "after folding block " << block + 1;
        expectBlocksConsistent(net);
    }
    EXPECT_EQ(net.batchNormLayerCount(), 0);
}

TEST(BatchNormFold, TheFoldedNetworkStillHasCorrectGradients) {
    Network net = cnn(NormPlacement::After);
    trainLikeStatistics(net, 40);
    (void)net.removeBatchNorm(1);
    GradientCheckOptions options;
    options.step = 1e-3;
    EXPECT_TRUE(networkGradientsMatch(net, randomMatrix(6, kCnnInput.size(), 41), {0, 1, 2, 0, 1, 2}, options));
}

TEST(BatchNormFold, NegativeScaleBeforeMaxPoolingIsRefusedAndChangesNothing) {
    Network net = cnn(NormPlacement::After);
    trainLikeStatistics(net, 50);
    BatchNorm* bn2 = net.batchNormLayers()[1];
    bn2->gamma()(0, 2) = -0.7f;  // max(s·x) ≠ s·max(x) for s < 0
    const Matrix x = randomMatrix(kBatch, kCnnInput.size(), 51);
    const Matrix before = evalOutput(net, x);
    const auto names = layerNames(net);
    try {
        (void)net.removeBatchNorm(1);
        ADD_FAILURE() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("max-pooling"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos) << e.what();
    }
    EXPECT_EQ(layerNames(net), names);
    EXPECT_EQ(maxAbsDiff(evalOutput(net, x), before), 0.0);
    EXPECT_EQ(net.normPlacement(1), NormPlacement::After);
}

TEST(BatchNormFold, ANextConvWithPaddingIsRefused) {
    NetworkSpec spec{{conv(3, NormPlacement::After), conv(4, NormPlacement::None, 1)}};
    Network net(spec, kCnnInput, kClasses, {}, InitOptions{InitKind::He, 1.0f}, 1);
    const auto names = layerNames(net);
    try {
        (void)net.removeBatchNorm(0);
        ADD_FAILURE() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("pads"), std::string::npos) << e.what();
    }
    EXPECT_EQ(layerNames(net), names);
}

TEST(BatchNormFold, BadRequestsAreConfigErrors) {
    Network net = mlp(NormPlacement::None);
    EXPECT_THROW((void)net.removeBatchNorm(0), ConfigError);   // has none
    EXPECT_THROW((void)net.removeBatchNorm(2), ConfigError);   // the output block
    EXPECT_THROW((void)net.removeBatchNorm(-1), ConfigError);
    const Matrix x = randomMatrix(kBatch, kMlpInput.size(), 3);
    EXPECT_THROW((void)net.insertBatchNorm(0, NormPlacement::None, x, {}), ConfigError);
    EXPECT_THROW((void)net.insertBatchNorm(0, NormPlacement::Before, x.topRows(1), {}), ConfigError);
    (void)net.insertBatchNorm(0, NormPlacement::Before, x, {});
    EXPECT_THROW((void)net.insertBatchNorm(0, NormPlacement::After, x, {}), ConfigError);  // already has one
}

// ---- Adding BN ------------------------------------------------------------------------------------------

TEST(BatchNormInsert, TheNewLayerIsTheIdentityOnTheCurrentBatchInBothModes) {
    for (const NormPlacement placement : {NormPlacement::Before, NormPlacement::After}) {
        SCOPED_TRACE(toString(placement));
        Network net = cnn(NormPlacement::None);
        const Matrix x = randomMatrix(kBatch, kCnnInput.size(), 61);
        const Matrix train = net.forward(x, Mode::Train);
        const Matrix eval = net.forward(x, Mode::Eval);
        for (int block : {0, 1, 4}) {
            (void)net.insertBatchNorm(block, placement, x, {0.9f, 1e-3f});
            EXPECT_EQ(net.normPlacement(block), placement);
            expectBlocksConsistent(net);
            EXPECT_LE(maxAbsDiff(evalOutput(net, x), eval), 1e-5) << "eval mode, block " << block + 1;
        }
        // Training mode uses the batch statistics, which on this batch are the ones the layers were made from
        // (the later layers see the earlier ones' exact identity, up to rounding).
        std::vector<std::pair<Vector, Vector>> saved;
        for (BatchNorm* bn : net.batchNormLayers()) saved.emplace_back(bn->runningMean(), bn->runningVar());
        EXPECT_LE(maxAbsDiff(net.forward(x, Mode::Train), train), 1e-4);
        EXPECT_EQ(net.batchNormLayerCount(), 3);
        for (BatchNorm* bn : net.batchNormLayers()) EXPECT_FLOAT_EQ(bn->options().momentum, 0.9f);
    }
}

TEST(BatchNormInsert, NamesAreStableAndAReinsertedLayerGetsItsOldName) {
    Network net = mlp(NormPlacement::Before);
    const Matrix x = randomMatrix(kBatch, kMlpInput.size(), 71);
    (void)net.removeBatchNorm(0);
    EXPECT_EQ(layerNames(net), (std::vector<std::string>{"dense1", "sigmoid1", "dense2", "bn2", "sigmoid2", "output"}));
    (void)net.insertBatchNorm(0, NormPlacement::After, x, {});
    EXPECT_EQ(layerNames(net),
              (std::vector<std::string>{"dense1", "sigmoid1", "bn1", "dense2", "bn2", "sigmoid2", "output"}));
    expectBlocksConsistent(net);

    Network plain = mlp(NormPlacement::None);
    (void)plain.insertBatchNorm(1, NormPlacement::Before, x, {});
    (void)plain.insertBatchNorm(0, NormPlacement::Before, x, {});
    EXPECT_EQ(layerNames(plain),
              (std::vector<std::string>{"dense1", "bn2", "sigmoid1", "dense2", "bn1", "sigmoid2", "output"}))
        << "names are handed out in the order the layers are added, and kept";
}

TEST(BatchNormInsert, TheNetworkWithAnInsertedLayerHasCorrectGradients) {
    Network net = mlp(NormPlacement::None);
    const Matrix x = randomMatrix(6, kMlpInput.size(), 81);
    (void)net.insertBatchNorm(1, NormPlacement::Before, x, {});
    trainLikeStatistics(net, 82);
    EXPECT_TRUE(networkGradientsMatch(net, x, {0, 1, 2, 0, 1, 2}));
}

// ---- Optimizer::rebind -----------------------------------------------------------------------------------

TEST(OptimizerRebind, KeptParametersKeepTheirStateAndNewOnesStartFresh) {
    for (const OptimizerKind kind : {OptimizerKind::SGD, OptimizerKind::Adam}) {
        SCOPED_TRACE(kind == OptimizerKind::SGD ? "sgd momentum" : "adam");
        OptimizerOptions options;
        options.kind = kind;
        options.learningRate = 0.01f;
        options.momentum = 0.9f;
        Matrix a = randomMatrix(2, 3, 1), ga = randomMatrix(2, 3, 2);
        Matrix b = randomMatrix(1, 4, 3), gb = randomMatrix(1, 4, 4);
        Matrix a2 = a, b2 = b;  // a twin optimizer bound to {a2, b2} from the start
        Matrix c = randomMatrix(1, 4, 5), gc = randomMatrix(1, 4, 6);
        Matrix c2 = c;

        Optimizer opt(options), twin(options), fresh(options);
        opt.bind({{"a", &a, &ga}, {"b", &b, &gb}});
        twin.bind({{"a", &a2, &ga}, {"b", &b2, &gb}});
        for (int i = 0; i < 3; ++i) {
            opt.step();
            twin.step();
        }
        // c joins, b leaves (its name is reused by c to show that `fresh` wins over the name).
        opt.rebind({{"a", &a, &ga}, {"b", &c, &gc}}, {"b"});
        twin.rebind({{"a", &a2, &ga}});
        fresh.bind({{"b", &c2, &gc}});
        opt.step();
        twin.step();
        fresh.step();
        EXPECT_EQ(a, a2) << "the kept parameter continues exactly as without the change";
        EXPECT_EQ(c, c2) << "the new parameter takes a first step, as a freshly bound one";
    }
}

// ---- Trainer::requestChange ------------------------------------------------------------------------------

// A sink that requests changes at given steps from inside onStep (step 0: from onStart), so a change lands
// exactly between two steps without timing.
class ChangingSink final : public MetricsSink {
public:
    RecordingSink records;
    std::multimap<long, LiveChange> at;
    Trainer* trainer = nullptr;

    void onStart(const RunInfo& info) override {
        records.onStart(info);
        request(0);
    }
    void onStep(const StepRecord& r) override {
        records.onStep(r);
        request(r.step);
    }
    void onEval(const EvalRecord& r) override { records.onEval(r); }
    void onProbe(const ProbeSnapshot& p) override { records.onProbe(p); }
    void onChange(const ChangeRecord& r) override { records.onChange(r); }
    void onFinish(const RunSummary& s) override { records.onFinish(s); }

private:
    void request(long step) {
        auto [b, e] = at.equal_range(step);
        for (auto it = b; it != e; ++it) trainer->requestChange(it->second);
    }
};

TrainOptions mlpOptions() {
    TrainOptions o;
    o.network.blocks = {denseBlock(32, ActivationKind::Sigmoid, NormPlacement::Before),
                        denseBlock(32, ActivationKind::Sigmoid, NormPlacement::Before)};
    o.optimizer.kind = OptimizerKind::SGD;
    o.optimizer.learningRate = 0.1f;
    o.batchSize = 50;
    o.trainSize = 1000;
    o.validationSize = 300;
    o.epochs = 2;
    o.probeInterval = 5;
    o.probeBatchSize = 64;
    o.evalInterval = 10;
    o.seed = 5;
    o.threads = 1;
    return o;
}

struct TrainedRun {
    std::vector<StepRecord> steps;
    std::vector<ChangeRecord> changes;
    std::vector<ProbeSnapshot> probes;
    RunSummary summary;
};

TrainedRun train(const TrainOptions& options, std::multimap<long, LiveChange> changes = {}) {
    ChangingSink sink;
    sink.at = std::move(changes);
    Trainer trainer(smallMnist(), options, sink);
    sink.trainer = &trainer;
    TrainedRun r;
    r.summary = trainer.run();
    r.steps = sink.records.steps;
    r.changes = sink.records.changes;
    r.probes = sink.records.probes;
    return r;
}

void expectSameSteps(const std::vector<StepRecord>& a, const std::vector<StepRecord>& b, std::size_t count) {
    ASSERT_GE(a.size(), count);
    ASSERT_GE(b.size(), count);
    for (std::size_t i = 0; i < count; ++i) {
        EXPECT_EQ(a[i].loss, b[i].loss) << "step " << i + 1;
        EXPECT_EQ(a[i].samples, b[i].samples) << "step " << i + 1;
    }
}

TEST(TrainerLiveChange, AChangeBeforeTheFirstStepGivesTheRunConfiguredThatWay) {
    struct Case {
        const char* name;
        LiveChange change;
        std::function<void(TrainOptions&)> configure;
    };
    const Case cases[] = {
        {"learning rate", LiveChange::learningRate(0.5), [](TrainOptions& o) { o.optimizer.learningRate = 0.5f; }},
        {"bn momentum", LiveChange::batchNormMomentum(0.5), [](TrainOptions& o) { o.batchNorm.momentum = 0.5f; }},
        {"batch size", LiveChange::batchSize(40), [](TrainOptions& o) { o.batchSize = 40; }},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TrainOptions configured = mlpOptions();
        c.configure(configured);
        const TrainedRun expected = train(configured);
        const TrainedRun changed = train(mlpOptions(), {{0, c.change}});
        ASSERT_EQ(changed.changes.size(), 1u);
        EXPECT_TRUE(changed.changes[0].applied) << changed.changes[0].description;
        EXPECT_EQ(changed.changes[0].step, 0);
        ASSERT_EQ(changed.steps.size(), expected.steps.size());
        expectSameSteps(changed.steps, expected.steps, expected.steps.size());
        EXPECT_EQ(changed.summary.valAccuracy, expected.summary.valAccuracy);
        EXPECT_EQ(changed.summary.testAccuracy, expected.summary.testAccuracy);
    }
}

TEST(TrainerLiveChange, ALearningRateChangeAfterStepKLeavesStepsOneToKAndTakesEffectAtKPlusOne) {
    const TrainedRun plain = train(mlpOptions());
    const TrainedRun changed = train(mlpOptions(), {{7, LiveChange::learningRate(2.0)}});
    ASSERT_EQ(changed.changes.size(), 1u);
    const ChangeRecord& r = changed.changes[0];
    EXPECT_TRUE(r.applied);
    EXPECT_EQ(r.step, 7);
    EXPECT_EQ(r.samples, 7 * 50);
    EXPECT_EQ(r.key, "learning_rate");
    EXPECT_EQ(r.value, "2");
    EXPECT_EQ(r.description, "learning rate 0.1 → 2");
    EXPECT_FALSE(r.structural);
    expectSameSteps(changed.steps, plain.steps, 8);  // step 8 was computed with the old weights
    EXPECT_NE(changed.steps[8].loss, plain.steps[8].loss) << "step 9 uses weights updated with the new rate";
    EXPECT_EQ(changed.steps.size(), plain.steps.size());
}

TEST(TrainerLiveChange, BatchSizeChangeMidEpochKeepsTheEpochsAndReplansTheSteps) {
    TrainOptions o = mlpOptions();  // 1000 images, batch 50: 20 steps per epoch, 2 epochs
    const TrainedRun changed = train(o, {{5, LiveChange::batchSize(100)}});
    ASSERT_EQ(changed.changes.size(), 1u);
    const ChangeRecord& r = changed.changes[0];
    ASSERT_TRUE(r.applied) << r.description;
    EXPECT_EQ(r.description, "batch size 50 → 100");
    // 250 images done; the remaining 750 of epoch 1 take 8 batches of 100 (the last of 50), then 10 more.
    EXPECT_EQ(r.info.stepsPerEpoch, 10);
    EXPECT_EQ(r.info.totalSteps, 5 + 8 + 10);
    EXPECT_EQ(changed.summary.steps, 23);
    EXPECT_EQ(changed.summary.reason, StopReason::Completed);
    EXPECT_EQ(changed.summary.samples, 2000);
    EXPECT_DOUBLE_EQ(changed.summary.epochs, 2.0);
    EXPECT_EQ(changed.steps[5].samples - changed.steps[4].samples, 100);
    EXPECT_EQ(changed.steps[12].samples, 1000) << "the partial last batch of epoch 1";
}

TEST(TrainerLiveChange, ImpossibleChangesAreRefusedAndTheRunGoesOnUnchanged) {
    TrainOptions o = mlpOptions();
    ChangingSink sink;
    Trainer trainer(smallMnist(), o, sink);
    // Never valid: refused at once, naming the setting.
    for (const LiveChange& c : {LiveChange::learningRate(std::nan("")), LiveChange::learningRate(-1),
                                LiveChange::batchNormMomentum(1.0), LiveChange::batchSize(0),
                                LiveChange::normPlacement(7, NormPlacement::None)}) {
        try {
            trainer.requestChange(c);
            ADD_FAILURE() << "expected a ConfigError";
        } catch (const ConfigError& e) {
            const std::string m = e.what();
            EXPECT_TRUE(m.starts_with("learning_rate") || m.starts_with("bn_momentum") || m.starts_with("batch_size") ||
                        m.starts_with("norm"))
                << m;
        }
    }
    // Valid values that this run cannot take: refused when applied, with the reason, nothing changed.
    const TrainedRun plain = train(o);
    const TrainedRun refused = train(o, {{3, LiveChange::batchSize(333)},   // 1000 = 3·333 + 1: a batch of one
                                  {3, LiveChange::batchSize(5000)},  // larger than the training split
                                  {4, LiveChange::normPlacement(0, NormPlacement::Before)}});  // already
    ASSERT_EQ(refused.changes.size(), 3u);
    for (const ChangeRecord& r : refused.changes) EXPECT_FALSE(r.applied) << r.description;
    EXPECT_NE(refused.changes[0].description.find("batch of 1 sample"), std::string::npos) << refused.changes[0].description;
    EXPECT_NE(refused.changes[1].description.find("larger than the training split"), std::string::npos);
    EXPECT_NE(refused.changes[2].description.find("already"), std::string::npos);
    ASSERT_EQ(refused.steps.size(), plain.steps.size());
    expectSameSteps(refused.steps, plain.steps, plain.steps.size());
}

TEST(TrainerLiveChange, APlannedChangeAfterTheLastStepIsReportedAsNotApplied) {
    TrainOptions o = mlpOptions();  // 40 steps
    o.schedule = {{10, LiveChange::learningRate(0.2)}, {500, LiveChange::learningRate(0.3)}};
    const TrainedRun run = train(o);
    ASSERT_EQ(run.changes.size(), 2u);
    EXPECT_TRUE(run.changes[0].applied);
    EXPECT_EQ(run.changes[0].step, 10);
    EXPECT_FALSE(run.changes[1].applied);
    EXPECT_NE(run.changes[1].description.find("planned after step 500 never came: the run ended after step 40"),
              std::string::npos)
        << run.changes[1].description;
}

TEST(TrainerLiveChange, BatchNormOffMidRunFoldsItAndTrainingGoesOn) {
    TrainOptions o = mlpOptions();
    o.batchNorm.momentum = 0.5f;
    const TrainedRun run = train(o, {{6, LiveChange::normPlacement(1, NormPlacement::None)},
                              {12, LiveChange::batchNormMomentum(0.9)}});
    ASSERT_EQ(run.changes.size(), 2u);
    const ChangeRecord& off = run.changes[0];
    ASSERT_TRUE(off.applied) << off.description;
    EXPECT_TRUE(off.structural);
    EXPECT_EQ(off.key, "block.2.norm");
    EXPECT_EQ(off.value, "none");
    EXPECT_NE(off.description.find("folded into dense2"), std::string::npos) << off.description;
    EXPECT_EQ(off.info.layers, (std::vector<std::string>{"dense1", "bn1", "sigmoid1", "dense2", "sigmoid2", "output"}));
    EXPECT_EQ(std::count(off.info.params.begin(), off.info.params.end(), "bn2.gamma"), 0);
    EXPECT_TRUE(run.changes[1].applied);
    EXPECT_EQ(run.summary.reason, StopReason::Completed);
    EXPECT_EQ(run.summary.steps, 40);
    // The probes after the change follow the new network.
    for (const ProbeSnapshot& p : run.probes) {
        const bool hasBn2 = std::any_of(p.batchNorm.begin(), p.batchNorm.end(), [](const BatchNormProbe& b) { return b.layer == "bn2"; });
        EXPECT_EQ(hasBn2, p.step <= 6) << "probe at step " << p.step;
    }
    // The folded network computes what the BN network computes in inference mode; with running statistics
    // close to the batch statistics (momentum 0.5 here) that is close to what training saw, so the next
    // step's loss is close to the one without the change. Then training goes on and the loss falls.
    const TrainedRun plain = train(o, {{12, LiveChange::batchNormMomentum(0.9)}});
    EXPECT_NEAR(run.steps[6].loss, plain.steps[6].loss, 0.1 * plain.steps[6].loss);
    double early = 0, late = 0;
    for (std::size_t i = 0; i < 6; ++i) {
        early += run.steps[6 + i].loss;
        late += run.steps[run.steps.size() - 1 - i].loss;
    }
    EXPECT_LT(late, 0.9 * early);
}

TEST(TrainerLiveChange, BatchNormOnMidRunWithAdamAddsALayerThatTrains) {
    TrainOptions o = mlpOptions();
    for (BlockSpec& b : o.network.blocks) b.norm = NormPlacement::None;
    o.optimizer.kind = OptimizerKind::Adam;
    o.optimizer.learningRate = 1e-3f;
    const TrainedRun run = train(o, {{5, LiveChange::normPlacement(0, NormPlacement::After)}});
    ASSERT_EQ(run.changes.size(), 1u);
    const ChangeRecord& on = run.changes[0];
    ASSERT_TRUE(on.applied) << on.description;
    EXPECT_EQ(on.key, "block.1.norm");
    EXPECT_EQ(on.info.layers, (std::vector<std::string>{"dense1", "sigmoid1", "bn1", "dense2", "sigmoid2", "output"}));
    EXPECT_NE(std::count(on.info.params.begin(), on.info.params.end(), "bn1.gamma"), 0);
    EXPECT_EQ(run.summary.reason, StopReason::Completed);
    // γ of the new layer receives gradients and moves: its norm is probed from the next probe on.
    bool sawGamma = false;
    for (const ProbeSnapshot& p : run.probes)
        for (const ParamProbe& q : p.params)
            if (q.name == "bn1.gamma") {
                EXPECT_GT(p.step, 5);
                EXPECT_GT(q.gradNorm, 0);
                EXPECT_GT(q.updateRatio, 0);
                sawGamma = true;
            }
    EXPECT_TRUE(sawGamma);
}

// ---- Other norm kinds mid-run ----------------------------------------------------------------------------

Network withKind(NetworkSpec spec, NormKind kind, Shape input) {
    for (BlockSpec& b : spec.blocks) b.normKind = kind;
    return Network(spec, input, kClasses, {0.9f, 1e-3f}, InitOptions{InitKind::He, 1.0f}, 1);
}

NetworkSpec mlpSpec(NormPlacement norm) {
    return {{denseBlock(7, ActivationKind::Sigmoid, norm), denseBlock(5, ActivationKind::Sigmoid, norm)}};
}

TEST(NormKindsMidRun, LayerAndGroupNormCannotBeRemovedOrAddedAndNothingChanges) {
    for (const NormKind kind : {NormKind::Layer, NormKind::Group}) {
        SCOPED_TRACE(toString(kind));
        // GroupNorm is for conv blocks: a CNN for it, the MLP for LayerNorm.
        const bool isConv = kind == NormKind::Group;
        const Shape input = isConv ? kCnnInput : kMlpInput;
        auto spec = [&](NormPlacement norm) {
            return isConv ? NetworkSpec{{conv(3, norm), conv(4, norm)}} : mlpSpec(norm);
        };
        const Matrix x = randomMatrix(kBatch, input.size(), 90);
        Network with = withKind(spec(NormPlacement::Before), kind, input);
        const std::vector<std::string> names = layerNames(with);
        const Matrix before = evalOutput(with, x);
        try {
            (void)with.removeBatchNorm(0);
            ADD_FAILURE() << "removed";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("own statistics"), std::string::npos) << e.what();
        }
        EXPECT_EQ(layerNames(with), names);
        EXPECT_EQ(evalOutput(with, x), before);

        Network without = withKind(spec(NormPlacement::None), kind, input);
        const std::vector<std::string> plain = layerNames(without);
        EXPECT_THROW((void)without.insertBatchNorm(0, NormPlacement::Before, x, {}, kind), ConfigError);
        EXPECT_EQ(layerNames(without), plain);
    }
}

TEST(NormKindsMidRun, BatchRenormFoldsAwayAndIsInsertedAsTheIdentityLikeBatchNorm) {
    const Matrix x = randomMatrix(kBatch, kCnnInput.size(), 91);
    NetworkSpec spec{{conv(3, NormPlacement::After), conv(4, NormPlacement::After), maxPoolBlock(2), flattenBlock(),
                      denseBlock(6, ActivationKind::ReLU, NormPlacement::Before)}};
    Network net = withKind(spec, NormKind::Renorm, kCnnInput);
    trainLikeStatistics(net, 92);
    const Matrix eval = evalOutput(net, x);
    for (const int block : {0, 1, 4}) (void)net.removeBatchNorm(block);
    EXPECT_EQ(net.batchNormLayerCount(), 0);
    EXPECT_LE(maxAbsDiff(evalOutput(net, x), eval), 1e-5);

    const Matrix train = net.forward(x, Mode::Train), folded = evalOutput(net, x);
    for (const int block : {0, 1, 4}) {
        const std::string text = net.insertBatchNorm(block, NormPlacement::Before, x, {0.9f, 1e-3f}, NormKind::Renorm);
        EXPECT_EQ(text.rfind("brn", 0), 0u) << text;  // its old name
        EXPECT_EQ(net.layer(net.blocks()[std::size_t(block)].norm).kind(), "batchrenorm");
    }
    EXPECT_LE(maxAbsDiff(evalOutput(net, x), folded), 1e-5);
    EXPECT_LE(maxAbsDiff(net.forward(x, Mode::Train), train), 1e-4);  // r = 1, d = 0 on this batch
}

TEST(NormKindsMidRun, FoldingPassesThroughDropout) {
    NetworkSpec spec = mlpSpec(NormPlacement::After);
    for (BlockSpec& b : spec.blocks) b.dropout = 0.5f;
    Network net(spec, kMlpInput, kClasses, {}, InitOptions{}, 1);
    trainLikeStatistics(net, 93);
    const Matrix x = randomMatrix(kBatch, kMlpInput.size(), 94);
    const Matrix eval = evalOutput(net, x);
    (void)net.removeBatchNorm(0);  // sigmoid1 → bn1 → dropout1 → dense2
    EXPECT_LE(maxAbsDiff(evalOutput(net, x), eval), 1e-5);
    EXPECT_EQ(layerNames(net), (std::vector<std::string>{"dense1", "sigmoid1", "dropout1", "dense2", "sigmoid2", "bn2",
                                                         "dropout2", "output"}));
    EXPECT_EQ(net.blocks()[0].dropout, 2);
    (void)net.insertBatchNorm(0, NormPlacement::After, x, {});  // back between the activation and Dropout
    EXPECT_EQ(layerNames(net)[2], "bn1");
    EXPECT_EQ(net.blocks()[0].dropout, 3);
}

TEST(TrainerLiveChange, LayerNormPlacementChangesAreRefusedWithTheReasonAndTheRunGoesOn) {
    TrainOptions o = mlpOptions();
    for (BlockSpec& b : o.network.blocks) b.normKind = NormKind::Layer;
    const TrainedRun plain = train(o);
    const TrainedRun refused = train(o, {{3, LiveChange::normPlacement(0, NormPlacement::None)},
                                         {4, LiveChange::normPlacement(1, NormPlacement::After)}});
    ASSERT_EQ(refused.changes.size(), 2u);
    for (const ChangeRecord& r : refused.changes) {
        EXPECT_FALSE(r.applied) << r.description;
        EXPECT_NE(r.description.find("own statistics"), std::string::npos) << r.description;
    }
    EXPECT_EQ(refused.summary.reason, StopReason::Completed);
    ASSERT_EQ(refused.steps.size(), plain.steps.size());
    expectSameSteps(refused.steps, plain.steps, plain.steps.size());
}

TEST(TrainerLiveChange, BatchRenormOffAndOnMidRun) {
    TrainOptions o = mlpOptions();
    for (BlockSpec& b : o.network.blocks) b.normKind = NormKind::Renorm;
    const TrainedRun run = train(o, {{5, LiveChange::normPlacement(1, NormPlacement::None)},
                                     {10, LiveChange::normPlacement(1, NormPlacement::After)}});
    ASSERT_EQ(run.changes.size(), 2u);
    ASSERT_TRUE(run.changes[0].applied) << run.changes[0].description;
    ASSERT_TRUE(run.changes[1].applied) << run.changes[1].description;
    EXPECT_EQ(run.changes[1].info.layers,
              (std::vector<std::string>{"dense1", "brn1", "sigmoid1", "dense2", "sigmoid2", "brn2", "output"}));
    EXPECT_EQ(run.summary.reason, StopReason::Completed);
    for (const StepRecord& s : run.steps) EXPECT_TRUE(std::isfinite(s.loss)) << "step " << s.step;
}

}  // namespace
}  // namespace bnlab::test
