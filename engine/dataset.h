#pragma once

// Image classification data kept as uint8 in memory, and the training/validation/test splits.

#include "tensor.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace bnlab::engine {

// N images of one shape (C = 1, H, W) with their labels, pixels as stored in the file (0..255).
struct ImageSet {
    Shape shape;                        // (1, H, W)
    std::vector<std::uint8_t> pixels;   // (N, H·W)
    std::vector<std::uint8_t> labels;   // (N)

    [[nodiscard]] Index size() const { return Index(labels.size()); }
    [[nodiscard]] const std::uint8_t* image(Index i) const { return pixels.data() + i * shape.size(); }
};

// Reads an images file (3 dimensions: N, H, W) and a labels file (1 dimension: N); the counts must agree.
[[nodiscard]] ImageSet loadImageSet(const std::filesystem::path& imagesFile,
                                    const std::filesystem::path& labelsFile);

// A contiguous range [begin, end) of an ImageSet.
struct DataView {
    const ImageSet* set = nullptr;
    Index begin = 0;
    Index end = 0;

    [[nodiscard]] Index size() const { return end - begin; }
    [[nodiscard]] const std::uint8_t* image(Index i) const { return set->image(begin + i); }
    [[nodiscard]] std::uint8_t label(Index i) const { return set->labels[std::size_t(begin + i)]; }
};

// A dataset folder: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, each optionally with ".gz" (the gzipped name is preferred when both exist).
struct Dataset {
    std::string name;                // the folder's name, e.g. "mnist" or "fashion-mnist"
    std::filesystem::path folder;
    ImageSet train;                  // the training files (training + validation splits)
    ImageSet test;                   // the t10k files
    int numClasses = 0;              // 1 + the largest label in either file

    [[nodiscard]] Shape inputShape() const { return train.shape; }
};

// Loads a dataset folder. Throws DataError naming the missing or broken file; training and test images
// must have the same shape.
[[nodiscard]] Dataset loadDataset(const std::filesystem::path& folder);

struct Splits {
    DataView train;       // the first trainSize images of the training files (all but validation by default)
    DataView validation;  // the last validationSize images of the training files
    DataView test;        // the whole test file
};

// Carves the validation split from the end of the training files. trainSize = 0 means all that remain.
// Throws ConfigError (naming validation_size or train_size and the limits) when they do not fit.
[[nodiscard]] Splits makeSplits(const Dataset& data, Index validationSize, Index trainSize = 0);

}  // namespace bnlab::engine
