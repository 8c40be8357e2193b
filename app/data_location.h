#pragma once

#include <QString>

namespace bnlab::app {

// The bundled MNIST folder, wherever the program was started from: next to an installed program
// (<prefix>/share/bnlab/datasets/mnist), in the source tree the build came from, or BNLAB_DATA_DIR.
// Returns an empty string when none holds the files.
[[nodiscard]] QString findBundledMnist(const QString& applicationDir);

}  // namespace bnlab::app
