#include "checkpoint.h"

#include "batch_norm.h"
#include "error.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <system_error>
#include <type_traits>

namespace bnlab::engine {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'B', 'N', 'L', 'A', 'B', 'C', 'K', 'P'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderSize = 32;

std::uint32_t crc(const char* data, std::size_t size, std::uint32_t start = 0) {
    uLong c = start;
    while (size > 0) {  // crc32 takes a uInt length
        const uInt piece = uInt(std::min<std::size_t>(size, 1u << 30));
        c = crc32(c, reinterpret_cast<const Bytef*>(data), piece);
        data += piece;
        size -= piece;
    }
    return std::uint32_t(c);
}

// Writes plain values to a stream as they come (no copy of the state in memory: a keras-cnn checkpoint is
// 14.6 MB), counting the bytes and their CRC-32.
class Writer {
public:
    explicit Writer(std::ostream& out) : m_out(out) {}

    template <typename T>
    void put(T v) {
        static_assert(std::is_trivially_copyable_v<T>);
        write(reinterpret_cast<const char*>(&v), sizeof v);
    }
    void put(const std::string& s) {
        put(std::uint64_t(s.size()));
        write(s.data(), s.size());
    }
    void put(const float* data, Index count) {
        write(reinterpret_cast<const char*>(data), std::size_t(count) * sizeof(float));
    }
    void put(const Matrix& m) {
        put(std::int64_t(m.rows()));
        put(std::int64_t(m.cols()));
        put(m.data(), m.size());
    }
    void put(const Vector& v) {
        put(std::uint64_t(v.size()));
        put(v.data(), v.size());
    }
    void put(const Shape& s) {
        put(std::int32_t(s.c));
        put(std::int32_t(s.h));
        put(std::int32_t(s.w));
    }
    [[nodiscard]] std::uint64_t size() const { return m_size; }
    [[nodiscard]] std::uint32_t checksum() const { return m_crc; }

private:
    void write(const char* data, std::size_t size) {
        m_out.write(data, std::streamsize(size));
        m_crc = crc(data, size, m_crc);
        m_size += size;
    }

    std::ostream& m_out;
    std::uint64_t m_size = 0;
    std::uint32_t m_crc = 0;
};

// Reads them back, refusing to read past the end or to believe a count larger than what is left.
class Reader {
public:
    Reader(const char* data, std::size_t size, std::string file) : m_data(data), m_size(size), m_file(std::move(file)) {}

    template <typename T>
    T get(const char* what) {
        static_assert(std::is_trivially_copyable_v<T>);
        T v;
        std::memcpy(&v, take(sizeof v, what), sizeof v);
        return v;
    }
    std::string string(const char* what) {
        const std::uint64_t n = count(1, what);
        return std::string(take(n, what), n);
    }
    Matrix matrix(const char* what) {
        const auto rows = get<std::int64_t>(what), cols = get<std::int64_t>(what);
        if (rows < 0 || cols < 0 || (cols > 0 && rows > std::int64_t(left() / sizeof(float)) / cols))
            corrupt(what, "a " + std::to_string(rows) + "x" + std::to_string(cols) + " matrix does not fit");
        Matrix m(rows, cols);
        std::memcpy(m.data(), take(std::size_t(rows * cols) * sizeof(float), what), std::size_t(m.size()) * sizeof(float));
        return m;
    }
    Vector vector(const char* what) {
        const std::uint64_t n = count(sizeof(float), what);
        Vector v(Index(n), 1);
        std::memcpy(v.data(), take(n * sizeof(float), what), n * sizeof(float));
        return v;
    }
    Shape shape(const char* what) {
        Shape s;
        s.c = get<std::int32_t>(what);
        s.h = get<std::int32_t>(what);
        s.w = get<std::int32_t>(what);
        return s;
    }
    // A count of items of `itemBytes` each that must fit in what is left.
    std::uint64_t count(std::size_t itemBytes, const char* what) {
        const auto n = get<std::uint64_t>(what);
        if (n > left() / std::max<std::size_t>(itemBytes, 1)) corrupt(what, "a count of " + std::to_string(n) + " does not fit");
        return n;
    }
    [[nodiscard]] bool atEnd() const { return m_pos == m_size; }
    [[noreturn]] void corrupt(const char* what, const std::string& detail) const {
        throw DataError(m_file + ": corrupt checkpoint at byte " + std::to_string(kHeaderSize + m_pos) + " (" + what +
                        "): " + detail);
    }

private:
    [[nodiscard]] std::size_t left() const { return m_size - m_pos; }
    const char* take(std::size_t n, const char* what) {
        if (n > left()) corrupt(what, "the state ends " + std::to_string(n - left()) + " bytes too early");
        const char* p = m_data + m_pos;
        m_pos += n;
        return p;
    }

    const char* m_data;
    std::size_t m_size;
    std::size_t m_pos = 0;
    std::string m_file;
};

void writeState(Writer& w, const Checkpoint& c) {
    w.put(c.seed);
    w.put(std::int64_t(c.trainSamples));
    w.put(std::uint8_t(c.optimizer));
    w.put(std::uint64_t(c.layers.size()));
    for (const LayerSignature& l : c.layers) {
        w.put(l.name);
        w.put(l.kind);
        w.put(l.input);
        w.put(l.output);
    }
    w.put(c.learningRate);
    w.put(c.batchNormMomentum);
    w.put(std::int64_t(c.batchSize));
    w.put(std::uint64_t(c.placements.size()));
    for (NormPlacement p : c.placements) w.put(std::uint8_t(p));
    w.put(std::uint64_t(c.names.perBlock.size()));
    for (const std::string& n : c.names.perBlock) w.put(n);
    for (int n : c.names.counts) w.put(std::int32_t(n));

    const LoopState& l = c.loop;
    w.put(std::int64_t(l.step));
    w.put(std::int64_t(l.samples));
    w.put(l.epochs);
    w.put(std::int64_t(l.lastValidationStep));
    w.put(l.seconds);
    w.put(l.trainingSeconds);
    for (double e : l.ema) w.put(e);
    w.put(std::uint8_t(l.hasValidation));
    w.put(l.valLoss);
    w.put(l.valAccuracy);

    const BatchSampler::State& s = c.sampler;
    w.put(std::int64_t(s.epoch));
    w.put(std::int64_t(s.position));
    w.put(std::int64_t(s.latestBegin));
    for (std::uint64_t r : s.random) w.put(r);
    w.put(std::uint64_t(s.order.size()));
    for (std::uint32_t i : s.order) w.put(i);

    w.put(std::uint64_t(c.params.size()));
    for (const auto& [name, value] : c.params) {
        w.put(name);
        w.put(value);
    }
    const Optimizer::State& o = c.optimizerState;
    w.put(std::int64_t(o.step));
    w.put(std::uint64_t(o.paramSteps.size()));
    for (long t : o.paramSteps) w.put(std::int64_t(t));
    for (const std::vector<Matrix>* moments : {&o.first, &o.second}) {
        w.put(std::uint64_t(moments->size()));
        for (const Matrix& m : *moments) w.put(m);
    }
    w.put(std::uint64_t(c.runningStatistics.size()));
    for (const RunningStatistics& r : c.runningStatistics) {
        w.put(r.layer);
        w.put(r.mean);
        w.put(r.var);
    }
}

template <typename E>
E enumValue(Reader& r, int count, const char* what) {
    const auto v = r.get<std::uint8_t>(what);
    if (v >= count) r.corrupt(what, "unknown value " + std::to_string(v));
    return E(v);
}

Checkpoint readState(Reader& r) {
    Checkpoint c;
    c.seed = r.get<std::uint64_t>("seed");
    c.trainSamples = Index(r.get<std::int64_t>("training samples"));
    c.optimizer = enumValue<OptimizerKind>(r, 2, "optimizer");
    c.layers.resize(r.count(1, "layer count"));
    for (LayerSignature& l : c.layers) {
        l.name = r.string("layer name");
        l.kind = r.string("layer kind");
        l.input = r.shape("layer input shape");
        l.output = r.shape("layer output shape");
    }
    c.learningRate = r.get<float>("learning rate");
    c.batchNormMomentum = r.get<float>("BN momentum");
    c.batchSize = Index(r.get<std::int64_t>("batch size"));
    c.placements.resize(r.count(1, "block count"));
    for (NormPlacement& p : c.placements) p = enumValue<NormPlacement>(r, 3, "BN placement");
    c.names.perBlock.resize(r.count(8, "norm name count"));
    for (std::string& n : c.names.perBlock) n = r.string("norm name");
    for (int& n : c.names.counts) n = r.get<std::int32_t>("norm name counter");

    LoopState& l = c.loop;
    l.step = long(r.get<std::int64_t>("step"));
    l.samples = r.get<std::int64_t>("samples");
    l.epochs = r.get<double>("epochs");
    l.lastValidationStep = long(r.get<std::int64_t>("last validation step"));
    l.seconds = r.get<double>("seconds");
    l.trainingSeconds = r.get<double>("training seconds");
    for (double& e : l.ema) e = r.get<double>("moving averages");
    l.hasValidation = r.get<std::uint8_t>("validation flag") != 0;
    l.valLoss = r.get<double>("validation loss");
    l.valAccuracy = r.get<double>("validation accuracy");

    BatchSampler::State& s = c.sampler;
    s.epoch = long(r.get<std::int64_t>("sampler epoch"));
    s.position = Index(r.get<std::int64_t>("sampler position"));
    s.latestBegin = Index(r.get<std::int64_t>("sampler latest batch"));
    for (std::uint64_t& x : s.random) x = r.get<std::uint64_t>("sampler generator");
    s.order.resize(r.count(sizeof(std::uint32_t), "sampler order"));
    for (std::uint32_t& i : s.order) i = r.get<std::uint32_t>("sampler order");

    c.params.resize(r.count(24, "parameter count"));
    for (auto& [name, value] : c.params) {
        name = r.string("parameter name");
        value = r.matrix("parameter");
    }
    Optimizer::State& o = c.optimizerState;
    o.step = long(r.get<std::int64_t>("optimizer step"));
    o.paramSteps.resize(r.count(8, "optimizer step counts"));
    for (long& t : o.paramSteps) t = long(r.get<std::int64_t>("optimizer step counts"));
    for (std::vector<Matrix>* moments : {&o.first, &o.second}) {
        moments->resize(r.count(16, "optimizer moments"));
        for (Matrix& m : *moments) m = r.matrix("optimizer moment");
    }
    c.runningStatistics.resize(r.count(24, "running statistics count"));
    for (RunningStatistics& s2 : c.runningStatistics) {
        s2.layer = r.string("running statistics layer");
        s2.mean = r.vector("running mean");
        s2.var = r.vector("running variance");
    }
    if (!r.atEnd()) r.corrupt("end", "bytes follow the state");
    return c;
}

std::string describe(const LayerSignature& l) {
    return "'" + l.name + "' " + l.kind + " " + l.input.toString() + " -> " + l.output.toString();
}

std::vector<LayerSignature> signatureOf(const Network& net) {
    std::vector<LayerSignature> out;
    for (std::size_t i = 0; i < net.layers().size(); ++i) {
        const Layer& l = *net.layers()[i];
        out.push_back({net.layerName(int(i)), l.kind(), l.inputShape(), l.outputShape()});
    }
    return out;
}

}  // namespace

void writeCheckpoint(const fs::path& file, const Checkpoint& checkpoint) {
    fs::path temporary = file;
    temporary += ".part";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        // The header, its size and checksum written again once the state is out.
        auto header = [&](std::uint64_t size, std::uint32_t checksum) {
            Writer h(out);
            for (char m : kMagic) h.put(m);
            h.put(kVersion);
            h.put(std::uint32_t(0));
            h.put(size);
            h.put(checksum);
            h.put(std::uint32_t(0));
        };
        header(0, 0);
        Writer state(out);
        writeState(state, checkpoint);
        out.seekp(0);
        header(state.size(), state.checksum());
        out.close();
        if (!out) {
            std::error_code ignored;
            fs::remove(temporary, ignored);
            throw Error(file.string() + ": cannot write the checkpoint (disk full or no permission?)");
        }
    }
    std::error_code error;
    fs::rename(temporary, file, error);
    if (error) throw Error(file.string() + ": cannot write the checkpoint (" + error.message() + ")");
}

Checkpoint readCheckpoint(const fs::path& file) {
    const std::string name = file.string();
    std::ifstream in(file, std::ios::binary);
    if (!in) throw DataError(name + ": cannot open the checkpoint");
    std::error_code sizeError;
    const std::uintmax_t fileSize = fs::file_size(file, sizeError);
    if (sizeError) throw DataError(name + ": cannot read the checkpoint's size (" + sizeError.message() + ")");
    std::vector<char> bytes(static_cast<std::size_t>(fileSize));
    in.read(bytes.data(), std::streamsize(bytes.size()));
    bytes.resize(std::size_t(in.gcount()));
    if (bytes.size() < kHeaderSize || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
        throw DataError(name + ": not a BN Lab checkpoint (it does not start with BNLABCKP)");
    Reader header(bytes.data() + sizeof kMagic, kHeaderSize - sizeof kMagic, name);
    const auto version = header.get<std::uint32_t>("version");
    if (version != kVersion)
        throw DataError(name + ": checkpoint format version " + std::to_string(version) + "; this BN Lab reads version " +
                        std::to_string(kVersion));
    (void)header.get<std::uint32_t>("reserved");
    const auto size = header.get<std::uint64_t>("size");
    const auto checksum = header.get<std::uint32_t>("checksum");
    const std::size_t present = bytes.size() - kHeaderSize;
    if (size != present)
        throw DataError(name + ": truncated or damaged checkpoint: the header announces " + std::to_string(size) +
                        " bytes of state, the file holds " + std::to_string(present));
    if (crc(bytes.data() + kHeaderSize, present) != checksum)
        throw DataError(name + ": corrupt checkpoint: the checksum of its state does not match");
    Reader reader(bytes.data() + kHeaderSize, present, name);
    return readState(reader);
}

Checkpoint captureCheckpoint(Network& net, const Optimizer& optimizer, const BatchSampler& sampler,
                             const TrainOptions& options, const LoopState& loop) {
    Checkpoint c;
    c.seed = options.seed;
    c.trainSamples = sampler.size();
    c.optimizer = options.optimizer.kind;
    c.layers = signatureOf(net);
    c.learningRate = optimizer.options().learningRate;
    c.batchNormMomentum = options.batchNorm.momentum;
    c.batchSize = sampler.batchSize();
    for (const BlockSpec& b : options.network.blocks) c.placements.push_back(b.norm);
    c.names = net.normNames();
    c.loop = loop;
    c.sampler = sampler.state();
    for (const NamedParam& p : net.params()) c.params.emplace_back(p.name, *p.param.value);
    c.optimizerState = optimizer.state();
    for (std::size_t i = 0; i < net.layers().size(); ++i)
        if (auto* bn = dynamic_cast<BatchNorm*>(net.layers()[i].get()))
            c.runningStatistics.push_back({net.layerName(int(i)), bn->runningMean(), bn->runningVar()});
    return c;
}

void applyCheckpointSettings(const Checkpoint& c, TrainOptions& options, Index trainSamples, const std::string& source) {
    auto differs = [&](const std::string& what, const std::string& file, const std::string& run) {
        throw ConfigError(source + ": the checkpoint belongs to another run: its " + what + " is " + file +
                          ", this run's is " + run);
    };
    if (c.seed != options.seed) differs("seed", std::to_string(c.seed), std::to_string(options.seed));
    if (c.trainSamples != trainSamples)
        differs("training split", std::to_string(c.trainSamples) + " images", std::to_string(trainSamples) + " images");
    if (c.optimizer != options.optimizer.kind)
        differs("optimizer", c.optimizer == OptimizerKind::Adam ? "adam" : "sgd",
                options.optimizer.kind == OptimizerKind::Adam ? "adam" : "sgd");
    if (c.placements.size() != options.network.blocks.size())
        differs("network", std::to_string(c.placements.size()) + " blocks",
                std::to_string(options.network.blocks.size()) + " blocks");
    if (c.loop.step < 1) differs("step", std::to_string(c.loop.step), "at least 1");
    options.optimizer.learningRate = c.learningRate;
    options.batchNorm.momentum = c.batchNormMomentum;
    options.batchSize = int(c.batchSize);
    for (std::size_t b = 0; b < c.placements.size(); ++b) options.network.blocks[b].norm = c.placements[b];
}

void restoreCheckpoint(const Checkpoint& c, Network& net, Optimizer& optimizer, BatchSampler& sampler,
                       const std::string& source) {
    auto fail = [&](const std::string& what) {
        throw ConfigError(source + ": the checkpoint does not match this run's network: " + what);
    };
    try {
        net.restoreNormNames(c.names);
    } catch (const Error& e) {
        fail(e.what());
    }
    const std::vector<LayerSignature> mine = signatureOf(net);
    for (std::size_t i = 0; i < std::max(mine.size(), c.layers.size()); ++i) {
        if (i < mine.size() && i < c.layers.size() && mine[i] == c.layers[i]) continue;
        fail("layer " + std::to_string(i + 1) + " is " + (i < c.layers.size() ? describe(c.layers[i]) : "missing") +
             " in the file and " + (i < mine.size() ? describe(mine[i]) : "missing") + " in this run");
    }
    std::vector<NamedParam> params = net.params();
    if (params.size() != c.params.size())
        fail(std::to_string(c.params.size()) + " parameters in the file, " + std::to_string(params.size()) + " here");
    for (std::size_t i = 0; i < params.size(); ++i) {
        const Matrix& saved = c.params[i].second;
        Matrix& value = *params[i].param.value;
        if (c.params[i].first != params[i].name || saved.rows() != value.rows() || saved.cols() != value.cols())
            fail("parameter " + std::to_string(i + 1) + " is '" + c.params[i].first + "' " + std::to_string(saved.rows()) +
                 "x" + std::to_string(saved.cols()) + " in the file and '" + params[i].name + "' " +
                 std::to_string(value.rows()) + "x" + std::to_string(value.cols()) + " here");
        value = saved;
    }
    std::size_t k = 0;
    for (std::size_t i = 0; i < net.layers().size(); ++i) {
        auto* bn = dynamic_cast<BatchNorm*>(net.layers()[i].get());
        if (!bn) continue;
        if (k >= c.runningStatistics.size() || c.runningStatistics[k].layer != net.layerName(int(i)) ||
            c.runningStatistics[k].mean.size() != bn->features() || c.runningStatistics[k].var.size() != bn->features())
            fail("the running statistics of " + net.layerName(int(i)) + " are missing or of another size");
        bn->runningMean() = c.runningStatistics[k].mean;
        bn->runningVar() = c.runningStatistics[k].var;
        ++k;
    }
    if (k != c.runningStatistics.size()) fail("the file holds running statistics of more BN layers than this run has");
    try {
        optimizer.bind(net.optimizerParams());
        optimizer.setState(c.optimizerState);
        sampler.setState(c.sampler);
    } catch (const ConfigError&) {
        throw;
    } catch (const Error& e) {
        fail(e.what());
    }
}

fs::path checkpointFile(const fs::path& folder, long step) {
    char name[32];
    std::snprintf(name, sizeof name, "step-%08ld.bnckpt", step);
    return folder / "checkpoints" / name;
}

std::vector<std::pair<long, fs::path>> listCheckpoints(const fs::path& folder) {
    std::vector<std::pair<long, fs::path>> out;
    std::error_code error;
    for (const fs::directory_entry& e : fs::directory_iterator(folder / "checkpoints", error)) {
        const std::string name = e.path().filename().string();
        long step = 0;
        char tail[8] = {};
        if (std::sscanf(name.c_str(), "step-%ld.%7s", &step, tail) == 2 && std::string(tail) == "bnckpt" &&
            e.path().extension() == ".bnckpt" && step > 0)
            out.emplace_back(step, e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

void thinCheckpoints(const fs::path& folder, std::size_t keep) {
    std::vector<std::pair<long, fs::path>> all = listCheckpoints(folder);
    keep = std::max<std::size_t>(keep, 1);
    while (all.size() > keep) {
        // Removing checkpoint i merges the gaps on either side: (previous or step 0) .. next.
        std::size_t best = 0;
        long bestGap = std::numeric_limits<long>::max();
        for (std::size_t i = 0; i + 1 < all.size(); ++i) {
            const long gap = all[i + 1].first - (i > 0 ? all[i - 1].first : 0);
            if (gap < bestGap) {
                bestGap = gap;
                best = i;
            }
        }
        std::error_code ignored;
        fs::remove(all[best].second, ignored);
        all.erase(all.begin() + std::ptrdiff_t(best));
    }
}

}  // namespace bnlab::engine
