#pragma once

#include "run_config.h"

#include <QString>
#include <vector>

namespace bnlab::app {

struct Preset {
    QString name;         // "bn-paper-mlp"
    QString description;  // one line
    RunConfig config;
};

[[nodiscard]] const std::vector<Preset>& presets();
[[nodiscard]] QString defaultPresetName();  // "bn-paper-mlp"
// Throws ConfigError listing the known names.
[[nodiscard]] const Preset& findPreset(const QString& name);

}  // namespace bnlab::app
