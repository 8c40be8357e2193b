// What an evaluation predicted (engine/metrics.h PredictionRecord): the confusion matrix against a count by
// hand from the logits, the per-sample probabilities against a softmax by hand, and what the trainer sends
// with each evaluation. (Their determinism on 1 and 2 threads is checked with every other record in
// test_trainer.cpp.)

#include "batch_sampler.h"
#include "network.h"
#include "optimizer.h"
#include "recording_sink.h"
#include "softmax_cross_entropy.h"
#include "test_data.h"
#include "trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

using namespace bnlab::engine;
using bnlab::test::RecordingSink;
using bnlab::test::smallMnist;

namespace {

// A small ReLU MLP with BN trained for 30 steps: good enough that its mistakes are not all of one kind.
struct TrainedNet {
    Splits splits;
    Network net;
};

TrainedNet trainedNet() {
    const Dataset& data = smallMnist();
    Splits splits = makeSplits(data, 700, 3000);
    NetworkSpec spec;
    spec.blocks = {denseBlock(32, ActivationKind::ReLU, NormPlacement::Before)};
    Network net(spec, data.inputShape(), data.numClasses, BatchNormOptions{0.9f, 1e-3f}, InitOptions{}, 3);
    OptimizerOptions sgd;
    sgd.learningRate = 0.2f;
    Optimizer optimizer(sgd);
    optimizer.bind(net.optimizerParams());
    BatchSampler sampler(splits.train, 50, 5);
    SoftmaxCrossEntropy ce;
    Matrix x;
    std::vector<std::uint8_t> labels;
    for (int i = 0; i < 30; ++i) {
        sampler.next(x, labels);
        (void)trainStep(net, ce, optimizer, x, labels);
    }
    return {splits, std::move(net)};
}

// The first index of the largest value, by a plain loop.
int argmaxOf(const Matrix& logits, Index row) {
    int best = 0;
    for (int c = 1; c < logits.cols(); ++c)
        if (logits(row, c) > logits(row, best)) best = c;
    return best;
}

}  // namespace

TEST(Predictions, ConfusionMatrixAndProbabilitiesMatchAHandCountFromTheLogits) {
    TrainedNet t = trainedNet();
    const DataView& view = t.splits.validation;
    SamplePredictions predictions;
    // Chunks of 64 in forwards of 16: the pieces must be put together in split order.
    const Evaluation e = evaluate(t.net, view, 64, 16, EvalStatistics::Running, &predictions);

    Matrix x;
    std::vector<std::uint8_t> labels;
    gatherRange(view, 0, view.size(), x, labels);
    const Matrix logits = t.net.forward(x, Mode::Eval);
    const int classes = int(logits.cols());
    std::vector<std::int64_t> counts(std::size_t(classes * classes), 0);
    for (Index n = 0; n < logits.rows(); ++n)
        ++counts[std::size_t(labels[std::size_t(n)] * classes + argmaxOf(logits, n))];

    ASSERT_EQ(e.classes, classes);
    EXPECT_EQ(e.confusion, counts);
    std::int64_t sum = 0, trace = 0;
    for (int r = 0; r < classes; ++r)
        for (int c = 0; c < classes; ++c)
            sum += counts[std::size_t(r * classes + c)],
                trace += r == c ? counts[std::size_t(r * classes + c)] : 0;
    EXPECT_EQ(sum, view.size());
    EXPECT_EQ(double(trace) / double(view.size()), e.accuracy);
    int offDiagonalCells = 0;
    for (int r = 0; r < classes; ++r)
        for (int c = 0; c < classes; ++c)
            offDiagonalCells += r != c && counts[std::size_t(r * classes + c)] > 0;
    EXPECT_GE(offDiagonalCells, 5) << "the test needs a network that makes mistakes of several kinds";

    ASSERT_EQ(predictions.size(), view.size());
    ASSERT_EQ(predictions.classes, classes);
    ASSERT_EQ(predictions.probabilities.size(), std::size_t(view.size() * classes));
    for (Index n = 0; n < view.size(); ++n) {
        ASSERT_EQ(predictions.labels[std::size_t(n)], labels[std::size_t(n)]) << "sample " << n;
        ASSERT_EQ(predictions.predicted[std::size_t(n)], argmaxOf(logits, n)) << "sample " << n;
        double z = 0;
        for (int c = 0; c < classes; ++c)
            z += std::exp(double(logits(n, c)) - double(logits(n, argmaxOf(logits, n))));
        for (int c = 0; c < classes; ++c) {
            const double p = std::exp(double(logits(n, c)) - double(logits(n, argmaxOf(logits, n)))) / z;
            ASSERT_NEAR(predictions.probability(n, c), p, 1e-6) << "sample " << n << " class " << c;
        }
    }
}

TEST(Predictions, ConfusionRecordCountsRowsTotalAndTrace) {
    ConfusionRecord r;
    r.classes = 3;
    r.counts = {5, 1, 0,  //
                2, 7, 1,  //
                0, 0, 4};
    EXPECT_EQ(r.at(1, 0), 2);
    EXPECT_EQ(r.at(0, 1), 1);
    EXPECT_EQ(r.total(), 20);
    EXPECT_EQ(r.correct(), 16);
    EXPECT_EQ(r.rowTotal(1), 10);
}

TEST(Predictions, TheTrainerSendsOneRecordPerEvaluationWithItsAccuracyAndItsImages) {
    TrainOptions o;
    o.network.blocks = {denseBlock(32, ActivationKind::ReLU, NormPlacement::Before)};
    o.optimizer.learningRate = 0.2f;
    o.batchSize = 50;
    o.trainSize = 1000;
    o.validationSize = 400;
    o.epochs = 2;
    o.evalInterval = 7;
    o.probeInterval = 0;
    o.threads = 1;
    RecordingSink sink;
    Trainer trainer(smallMnist(), o, sink);
    const RunSummary summary = trainer.run();
    ASSERT_TRUE(summary.hasTest);
    ASSERT_EQ(sink.predictions.size(), sink.evals.size());
    ASSERT_GE(sink.evals.size(), 4u);
    const Dataset& data = smallMnist();
    for (std::size_t i = 0; i < sink.evals.size(); ++i) {
        const EvalRecord& e = sink.evals[i];
        const PredictionRecord& p = sink.predictions[i];
        SCOPED_TRACE(e.split + " at step " + std::to_string(e.step));
        EXPECT_EQ(p.confusion.split, e.split);
        EXPECT_EQ(p.confusion.step, e.step);
        EXPECT_EQ(p.confusion.seconds, e.seconds);
        const Index size = e.split == "test" ? data.test.size() : o.validationSize;
        EXPECT_EQ(p.confusion.total(), size);
        EXPECT_EQ(double(p.confusion.correct()) / double(size), e.accuracy);
        ASSERT_EQ(p.predictions.size(), size);
        // Sample i is image firstImage + i of its file: validation is the end of the training file.
        const ImageSet& file = e.split == "test" ? data.test : data.train;
        EXPECT_EQ(p.predictions.firstImage, e.split == "test" ? 0 : data.train.size() - o.validationSize);
        for (Index n = 0; n < size; ++n)
            ASSERT_EQ(p.predictions.labels[std::size_t(n)],
                      file.labels[std::size_t(p.predictions.firstImage + n)]);
        std::map<int, std::int64_t> perClass;
        for (std::uint8_t label : p.predictions.labels) ++perClass[label];
        for (const auto& [label, count] : perClass)
            EXPECT_EQ(p.confusion.rowTotal(label), count) << "class " << label;
    }
    EXPECT_EQ(sink.predictions.back().confusion.split, "test");
}
