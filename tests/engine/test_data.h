#pragma once

// The bundled MNIST for tests, loaded once per test binary (about 0.3 s), and a small cut of it.

#include "dataset.h"

#include <string>

#ifndef BNLAB_TEST_DATASETS
#error "BNLAB_TEST_DATASETS must be defined as the path of the repository's datasets/ folder"
#endif

namespace bnlab::test {

inline const engine::Dataset& mnist() {
    static const engine::Dataset data = engine::loadDataset(std::string(BNLAB_TEST_DATASETS) + "/mnist");
    return data;
}

// The first 10000 training images (the validation split is carved from their end) and the first 1000 test
// images. Every completed run evaluates the whole test split, which with the full 10000 test images would
// dominate the time of short runs.
inline const engine::Dataset& smallMnist() {
    static const engine::Dataset data = [] {
        const engine::Dataset& full = mnist();
        auto take = [](const engine::ImageSet& set, engine::Index n) {
            engine::ImageSet out;
            out.shape = set.shape;
            out.pixels.assign(set.pixels.begin(), set.pixels.begin() + std::ptrdiff_t(n * set.shape.size()));
            out.labels.assign(set.labels.begin(), set.labels.begin() + std::ptrdiff_t(n));
            return out;
        };
        engine::Dataset small;
        small.name = full.name + "-small";
        small.folder = full.folder;
        small.numClasses = full.numClasses;
        small.train = take(full.train, 10000);
        small.test = take(full.test, 1000);
        return small;
    }();
    return data;
}

}  // namespace bnlab::test
