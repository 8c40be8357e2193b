// loadImageSet, loadDataset and makeSplits: small synthetic folders, the bundled MNIST and Fashion-MNIST.

#include "dataset.h"
#include "error.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace bnlab::engine;
using Bytes = std::vector<std::uint8_t>;

namespace {

const fs::path kFashionMnist = "/usr/share/datasets/fashion-mnist";

// A fresh folder under the system's temporary directory, removed with everything in it.
class TempDir {
public:
    TempDir() {
        const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        m_path = fs::temp_directory_path() /
                 ("bnlab_dataset_" + test + "_" + std::to_string(std::random_device{}()));
        fs::create_directories(m_path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    const fs::path& path() const { return m_path; }
    fs::path operator/(const std::string& name) const { return m_path / name; }

private:
    fs::path m_path;
};

// Writes an IDX file of unsigned bytes, gzipped when the name ends in ".gz".
void writeIdx(const fs::path& file, const std::vector<std::uint32_t>& dims, const Bytes& data) {
    Bytes bytes = {0, 0, 0x08, std::uint8_t(dims.size())};
    for (std::uint32_t d : dims) {
        for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(std::uint8_t(d >> shift));
    }
    bytes.insert(bytes.end(), data.begin(), data.end());
    if (file.extension() == ".gz") {
        gzFile gz = gzopen(file.c_str(), "wb");
        ASSERT_NE(gz, nullptr) << file;
        ASSERT_EQ(gzwrite(gz, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
        ASSERT_EQ(gzclose(gz), Z_OK);
    } else {
        std::ofstream(file, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    }
}

Bytes sequence(std::size_t n, int step = 1) {
    Bytes data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = std::uint8_t(i * step);
    return data;
}

// A dataset folder of n train and m test images of h x w; labels 0..3, so four classes.
void writeFolder(const fs::path& folder, int n, int m, std::uint32_t h, std::uint32_t w, bool gzip) {
    const std::string gz = gzip ? ".gz" : "";
    const auto labels = [](int count) {
        Bytes l(std::size_t(count), 0);
        for (int i = 0; i < count; ++i) l[std::size_t(i)] = std::uint8_t(i % 4);
        return l;
    };
    writeIdx(folder / ("train-images-idx3-ubyte" + gz), {std::uint32_t(n), h, w}, sequence(n * h * w));
    writeIdx(folder / ("train-labels-idx1-ubyte" + gz), {std::uint32_t(n)}, labels(n));
    writeIdx(folder / ("t10k-images-idx3-ubyte" + gz), {std::uint32_t(m), h, w}, sequence(m * h * w, 3));
    writeIdx(folder / ("t10k-labels-idx1-ubyte" + gz), {std::uint32_t(m)}, labels(m));
}

// Returns the message of the exception `fn` throws (and fails the test when it throws none).
template <typename E, typename F>
std::string messageOf(F fn) {
    try {
        fn();
    } catch (const E& e) {
        return e.what();
    }
    ADD_FAILURE() << "no exception of the expected type";
    return {};
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
    if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "missing \"" << part << "\" in: " << text;
}

const Dataset& mnist() {
    static const Dataset data = loadDataset(fs::path(BNLAB_TEST_DATASETS) / "mnist");
    return data;
}

}  // namespace

TEST(Dataset, SmallFolderWithOtherShape) {
    TempDir dir;
    writeFolder(dir.path(), 6, 3, 5, 7, false);
    const Dataset data = loadDataset(dir.path().string() + "/");  // trailing slash: name still found
    EXPECT_EQ(data.name, dir.path().filename().string());
    EXPECT_EQ(data.inputShape(), (Shape{1, 5, 7}));
    EXPECT_EQ(data.train.size(), 6);
    EXPECT_EQ(data.test.size(), 3);
    EXPECT_EQ(data.numClasses, 4);
    EXPECT_EQ(data.train.pixels, sequence(6 * 35));
    EXPECT_EQ(data.test.image(1)[0], std::uint8_t(35 * 3));
    EXPECT_EQ(data.train.labels, (Bytes{0, 1, 2, 3, 0, 1}));
}

TEST(Dataset, PrefersGzippedFiles) {
    TempDir dir;
    writeFolder(dir.path(), 4, 2, 3, 3, true);
    writeFolder(dir.path(), 8, 2, 2, 2, false);  // the raw files differ: they must be ignored
    const Dataset data = loadDataset(dir.path());
    EXPECT_EQ(data.train.size(), 4);
    EXPECT_EQ(data.inputShape(), (Shape{1, 3, 3}));
}

TEST(Dataset, MissingFileIsNamed) {
    TempDir dir;
    writeFolder(dir.path(), 4, 2, 3, 3, true);
    fs::remove(dir / "t10k-labels-idx1-ubyte.gz");
    const std::string message = messageOf<bnlab::DataError>([&] { (void)loadDataset(dir.path()); });
    EXPECT_TRUE(contains(message, dir.path().filename().string()));
    EXPECT_TRUE(contains(message, "lacks t10k-labels-idx1-ubyte"));
}

TEST(Dataset, MissingFolder) {
    TempDir dir;
    const std::string message = messageOf<bnlab::DataError>([&] { (void)loadDataset(dir / "no-such"); });
    EXPECT_TRUE(contains(message, "no-such"));
    EXPECT_TRUE(contains(message, "does not exist"));
}

TEST(Dataset, CountMismatchNamesBothFiles) {
    TempDir dir;
    writeIdx(dir / "images", {5, 2, 2}, sequence(20));
    writeIdx(dir / "labels", {4}, sequence(4));
    const std::string message =
        messageOf<bnlab::DataError>([&] { (void)loadImageSet(dir / "images", dir / "labels"); });
    EXPECT_TRUE(contains(message, (dir / "images").string() + " holds 5 images"));
    EXPECT_TRUE(contains(message, (dir / "labels").string() + " holds 4 labels"));
}

TEST(Dataset, WrongDimensionCounts) {
    TempDir dir;
    writeIdx(dir / "images", {5, 2, 2}, sequence(20));
    writeIdx(dir / "labels3d", {5, 1, 1}, sequence(5));
    writeIdx(dir / "flat", {20}, sequence(20));
    std::string message =
        messageOf<bnlab::DataError>([&] { (void)loadImageSet(dir / "images", dir / "labels3d"); });
    EXPECT_TRUE(contains(message, "labels3d"));
    EXPECT_TRUE(contains(message, "labels need 1 dimension (N), found 3"));
    message = messageOf<bnlab::DataError>([&] { (void)loadImageSet(dir / "flat", dir / "labels3d"); });
    EXPECT_TRUE(contains(message, "flat"));
    EXPECT_TRUE(contains(message, "images need 3 dimensions (N, H, W), found 1"));
}

TEST(Dataset, NoImages) {
    TempDir dir;
    writeIdx(dir / "empty-set", {0, 28, 28}, {});
    writeIdx(dir / "labels", {0}, {});
    const std::string message =
        messageOf<bnlab::DataError>([&] { (void)loadImageSet(dir / "empty-set", dir / "labels"); });
    EXPECT_TRUE(contains(message, "empty-set"));
    EXPECT_TRUE(contains(message, "holds no images"));
}

TEST(Dataset, TrainAndTestShapesMustMatch) {
    TempDir dir;
    writeFolder(dir.path(), 4, 2, 3, 3, false);
    writeIdx(dir / "t10k-images-idx3-ubyte", {2, 4, 3}, sequence(24));
    const std::string message = messageOf<bnlab::DataError>([&] { (void)loadDataset(dir.path()); });
    EXPECT_TRUE(contains(message, "t10k-images-idx3-ubyte"));
    EXPECT_TRUE(contains(message, "test images are 1x4x3"));
    EXPECT_TRUE(contains(message, "1x3x3"));
}

TEST(Dataset, BundledMnist) {
    const Dataset& data = mnist();
    EXPECT_EQ(data.name, "mnist");
    EXPECT_EQ(data.train.size(), 60000);
    EXPECT_EQ(data.test.size(), 10000);
    EXPECT_EQ(data.inputShape(), (Shape{1, 28, 28}));
    EXPECT_EQ(data.train.pixels.size(), 60000u * 784u);
    EXPECT_EQ(data.numClasses, 10);
    EXPECT_EQ(data.train.labels.front(), 5);
    EXPECT_EQ(data.test.labels.front(), 7);
}

TEST(Dataset, MnistSplits) {
    const Dataset& data = mnist();
    const Splits splits = makeSplits(data, 5000);
    EXPECT_EQ(splits.train.begin, 0);
    EXPECT_EQ(splits.train.size(), 55000);
    EXPECT_EQ(splits.validation.begin, 55000);
    EXPECT_EQ(splits.validation.size(), 5000);
    EXPECT_EQ(splits.validation.image(0), data.train.image(55000));
    EXPECT_EQ(splits.validation.label(4999), data.train.labels.back());
    EXPECT_EQ(splits.test.size(), 10000);
    EXPECT_EQ(splits.test.label(0), 7);

    EXPECT_EQ(makeSplits(data, 5000, 1000).train.size(), 1000);
    EXPECT_EQ(makeSplits(data, 5000, 55000).train.size(), 55000);
    const Splits noValidation = makeSplits(data, 0);
    EXPECT_EQ(noValidation.train.size(), 60000);
    EXPECT_EQ(noValidation.validation.size(), 0);
}

TEST(Dataset, BadSplitSizes) {
    const Dataset& data = mnist();
    const auto splitError = [&](Index validation, Index train) {
        return messageOf<bnlab::ConfigError>([&] { (void)makeSplits(data, validation, train); });
    };
    EXPECT_TRUE(contains(splitError(-1, 0), "validation_size is -1, must be 0 to 59999"));
    EXPECT_TRUE(contains(splitError(60000, 0), "validation_size is 60000"));
    EXPECT_TRUE(contains(splitError(5000, -1), "train_size is -1, must be 0 (all) to 55000"));
    EXPECT_TRUE(contains(splitError(5000, 55001), "train_size is 55001"));
}

TEST(Dataset, FashionMnist) {
    ASSERT_TRUE(fs::is_directory(kFashionMnist))
        << kFashionMnist << " is missing: install Debian's dataset-fashion-mnist package";
    const Dataset data = loadDataset(kFashionMnist);
    EXPECT_EQ(data.name, "fashion-mnist");
    EXPECT_EQ(data.train.size(), 60000);
    EXPECT_EQ(data.test.size(), 10000);
    EXPECT_EQ(data.inputShape(), (Shape{1, 28, 28}));
    EXPECT_EQ(data.numClasses, 10);
    EXPECT_EQ(data.train.labels.front(), 9);  // ankle boot
    EXPECT_EQ(data.test.labels.front(), 9);
}
