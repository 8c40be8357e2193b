#pragma once

// The run configuration as people and files see it: flat snake_case keys (the same for bnlab-cli's --set,
// config.json and the GUI), each with its default, its range and a sentence of help.

#include "trainer.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <vector>

namespace bnlab::app {

struct RunConfig {
    QString preset;                 // the preset it started from (informative)
    engine::TrainOptions train;
};

struct ConfigKey {
    QString name;      // "batch_size", "block.2.norm", ...
    QString range;     // "1..65536", "none|before|after", ...
    QString help;      // one sentence
};

// Every key, in the order --help lists them (per-block keys once, as block.N.*).
[[nodiscard]] const std::vector<ConfigKey>& configKeys();

// Applies KEY=VALUE. Throws ConfigError naming the key for an unknown key or a value that does not parse;
// ranges are checked by engine::validate() when the run starts, so messages name keys the same way.
void applySetting(RunConfig& config, const QString& key, const QString& value);
void applySetting(RunConfig& config, const QString& keyEqualsValue);  // "key=value"

// Changes during a run. The keys that can change live are learning_rate, bn_momentum, batch_size and
// block.N.norm; liveChange throws ConfigError naming the key for any other key or a bad value.
[[nodiscard]] engine::LiveChange liveChange(const RunConfig& config, const QString& key, const QString& value);
// "STEP:KEY=VALUE" (e.g. "500:learning_rate=1"): appends a planned change to config.train.schedule.
void addScheduledChange(RunConfig& config, const QString& text);
[[nodiscard]] QString scheduledChangeText(const RunConfig& config, const engine::ScheduledChange& change);

// The value of a key as text (for --help defaults and tables).
[[nodiscard]] QString settingValue(const RunConfig& config, const QString& key);

// What other sets differently from base, one text per setting, in the order of configKeys() (each block's
// settings after the others): "BN before → none", "batch 128 → 8", "seed 1 → 2", "block 2 BN before → none".
// A network of other layers is one entry ("network keras-cnn → bn-paper-mlp"). Planned changes count too.
[[nodiscard]] QStringList settingDifferences(const RunConfig& base, const RunConfig& other);

// config.json: {"format": "bnlab-config", "version": 1, "preset": ..., every key..., "network": {...}}.
[[nodiscard]] QJsonObject toJson(const RunConfig& config);
// Throws ConfigError naming `source` (a file name) and the key for unknown keys or bad values.
[[nodiscard]] RunConfig fromJson(const QJsonObject& json, const QString& source);
[[nodiscard]] RunConfig loadConfigFile(const QString& path);  // throws Error naming the file

}  // namespace bnlab::app
