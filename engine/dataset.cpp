#include "dataset.h"

#include "error.h"
#include "idx.h"

#include <algorithm>
#include <array>

namespace bnlab::engine {

namespace fs = std::filesystem;

namespace {

std::string dimsText(const std::vector<std::uint32_t>& dims) {
    std::string text;
    for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? "x" : "") + std::to_string(dims[i]);
    return text;
}

// The standard file names; each may also end in ".gz".
constexpr std::array<const char*, 4> kFileNames = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                   "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

// The folder's own name, also for "data/mnist/", "." or "data/mnist/..".
std::string folderName(const fs::path& folder) {
    fs::path normal = fs::absolute(folder).lexically_normal();
    if (!normal.has_filename()) normal = normal.parent_path();
    return normal.filename().string();
}

int largestLabel(const std::vector<std::uint8_t>& labels) {
    return labels.empty() ? -1 : int(*std::max_element(labels.begin(), labels.end()));
}

}  // namespace

ImageSet loadImageSet(const fs::path& imagesFile, const fs::path& labelsFile) {
    IdxArray images = readIdx(imagesFile);
    IdxArray labels = readIdx(labelsFile);
    if (images.dims.size() != 3) {
        throw DataError(imagesFile.string() + ": images need 3 dimensions (N, H, W), found " +
                        std::to_string(images.dims.size()) + " (" + dimsText(images.dims) + ")");
    }
    if (labels.dims.size() != 1) {
        throw DataError(labelsFile.string() + ": labels need 1 dimension (N), found " +
                        std::to_string(labels.dims.size()) + " (" + dimsText(labels.dims) + ")");
    }
    if (images.dims[0] != labels.dims[0]) {
        throw DataError("count mismatch: " + imagesFile.string() + " holds " +
                        std::to_string(images.dims[0]) + " images but " + labelsFile.string() + " holds " +
                        std::to_string(labels.dims[0]) + " labels");
    }
    if (images.dims[0] == 0) throw DataError(imagesFile.string() + ": holds no images (N = 0)");
    if (images.dims[1] == 0 || images.dims[2] == 0) {
        throw DataError(imagesFile.string() + ": empty image shape " + dimsText(images.dims));
    }

    // readIdx caps the data at 2^31 - 1 bytes, so H and W fit in int.
    ImageSet set;
    set.shape = Shape{1, int(images.dims[1]), int(images.dims[2])};
    set.pixels = std::move(images.data);
    set.labels = std::move(labels.data);
    return set;
}

Dataset loadDataset(const fs::path& folder) {
    std::error_code ec;
    if (!fs::exists(folder, ec)) throw DataError("dataset folder " + folder.string() + " does not exist");
    if (!fs::is_directory(folder, ec)) {
        throw DataError(folder.string() + " is not a folder (expected a dataset folder)");
    }

    // Find all four files first, so that a missing one is reported before anything is read.
    std::array<fs::path, 4> files;
    std::string missing;
    for (std::size_t i = 0; i < kFileNames.size(); ++i) {
        const fs::path raw = folder / kFileNames[i];
        const fs::path gz = folder / (std::string(kFileNames[i]) + ".gz");
        if (fs::is_regular_file(gz, ec)) {
            files[i] = gz;
        } else if (fs::is_regular_file(raw, ec)) {
            files[i] = raw;
        } else {
            missing += (missing.empty() ? "" : ", ") + std::string(kFileNames[i]);
        }
    }
    if (!missing.empty()) {
        throw DataError("dataset folder " + folder.string() + " lacks " + missing +
                        " (each may be gzipped, with \".gz\" added to the name)");
    }

    Dataset data;
    data.name = folderName(folder);
    data.folder = folder;
    data.train = loadImageSet(files[0], files[1]);
    data.test = loadImageSet(files[2], files[3]);
    if (data.test.shape != data.train.shape) {
        throw DataError(files[2].string() + ": test images are " + data.test.shape.toString() + " but " +
                        files[0].string() + " holds " + data.train.shape.toString() + " images");
    }
    data.numClasses = 1 + std::max(largestLabel(data.train.labels), largestLabel(data.test.labels));
    return data;
}

Splits makeSplits(const Dataset& data, Index validationSize, Index trainSize) {
    const Index n = data.train.size();
    if (n == 0) throw ConfigError("dataset " + data.name + " has no training images to split");
    if (validationSize < 0 || validationSize >= n) {
        throw ConfigError("validation_size is " + std::to_string(validationSize) + ", must be 0 to " +
                          std::to_string(n - 1) + " (the training files of " + data.name + " hold " +
                          std::to_string(n) + " images)");
    }
    const Index remaining = n - validationSize;
    if (trainSize < 0 || trainSize > remaining) {
        throw ConfigError("train_size is " + std::to_string(trainSize) + ", must be 0 (all) to " +
                          std::to_string(remaining) + " (the " + std::to_string(n) + " training images of " +
                          data.name + " minus validation_size " + std::to_string(validationSize) + ")");
    }
    Splits splits;
    splits.train = DataView{&data.train, 0, trainSize == 0 ? remaining : trainSize};
    splits.validation = DataView{&data.train, remaining, n};
    splits.test = DataView{&data.test, 0, data.test.size()};
    return splits;
}

}  // namespace bnlab::engine
