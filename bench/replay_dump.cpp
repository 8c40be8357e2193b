// bnlab-replay-dump: writes the initial weights and the batch order that bnlab-cli uses for an MLP preset
// and seed, so that bench/pytorch_replay.py can train the very same run in PyTorch.
//   bnlab-replay-dump [PRESET [SEED [EPOCHS]]] > replay.txt        (default bn-paper-mlp 1 5)

#include "batch_sampler.h"
#include "network.h"
#include "presets.h"

#include <QCoreApplication>

#include <cstdio>
#include <numeric>

using namespace bnlab::engine;

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    const QStringList a = QCoreApplication::arguments();
    const QString preset = a.size() > 1 ? a[1] : "bn-paper-mlp";
    const std::uint64_t seed = a.size() > 2 ? a[2].toULongLong() : 1;
    const int epochs = a.size() > 3 ? a[3].toInt() : 5;
    const TrainOptions t = bnlab::app::findPreset(preset).config.train;
    Network net(t.network, Shape{1, 28, 28}, 10, t.batchNorm, t.init, seed);
    std::printf("# %s seed %llu: initial parameters, then one line of training indices per epoch\n",
                preset.toUtf8().constData(), (unsigned long long)seed);
    for (const NamedParam& p : net.params()) {
        std::printf("%s %lld %lld\n", p.name.c_str(), (long long)p.param.value->rows(), (long long)p.param.value->cols());
        for (Index i = 0; i < p.param.value->size(); ++i) std::printf("%.9g ", p.param.value->data()[i]);
        std::printf("\n");
    }
    // The sampler's shuffle, replayed: the same generator and Fisher-Yates as BatchSampler.
    Random random(Random::derive(seed, 2));
    std::vector<std::uint32_t> order(55000);
    std::iota(order.begin(), order.end(), 0u);
    for (int e = 0; e < epochs; ++e) {
        for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[random.below(i + 1)]);
        std::printf("epoch %d\n", e + 1);
        for (auto v : order) std::printf("%u ", v);
        std::printf("\n");
    }
}
