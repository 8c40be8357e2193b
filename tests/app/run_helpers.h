#pragma once

// What the tests of RunController and RunSet share: the dataset, a short run, and waiting on the event loop.

#include "dataset.h"
#include "presets.h"
#include "run_config.h"

#include <QCoreApplication>
#include <QDeadlineTimer>

#include <memory>
#include <string>

namespace bnlab::app::testing {

inline std::shared_ptr<const engine::Dataset> mnist() {
    static auto data = std::make_shared<const engine::Dataset>(
        engine::loadDataset(std::string(BNLAB_TEST_DATASETS) + "/mnist"));
    return data;
}

inline RunConfig smallConfig(long maxSteps) {
    RunConfig c = findPreset("bn-paper-mlp").config;
    applySetting(c, "train_size", "3000");
    applySetting(c, "validation_size", "500");
    applySetting(c, "max_steps", QString::number(maxSteps));
    applySetting(c, "probe_interval", "10");
    applySetting(c, "eval_interval", "25");
    return c;
}

// How much longer to wait under the sanitizers, which slow training 5-20 times: BNLAB_TEST_TIMEOUT_SCALE (the
// sanitize and tsan test presets set it), 1 otherwise. A timeout says "did not happen", never "too slow".
inline int timeoutScale() {
    const int scale = qEnvironmentVariableIntValue("BNLAB_TEST_TIMEOUT_SCALE");
    return scale > 0 ? scale : 1;
}

// Processes events until pred() holds or the timeout passes; returns pred().
template <typename Pred>
inline bool waitFor(Pred pred, int timeoutMs = 60000) {
    QDeadlineTimer deadline(qint64(timeoutMs) * timeoutScale());
    while (!pred() && !deadline.hasExpired()) QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    return pred();
}

}  // namespace bnlab::app::testing
