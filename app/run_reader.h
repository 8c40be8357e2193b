#pragma once

// Reads a run folder back (as RunWriter writes it, from bnlab or bnlab-cli) into the RunData the charts
// draw. An interrupted run (no summary.json, a last line cut short by a crash or power cut) opens with what
// was written; anything else that does not parse is an Error naming the file and the line, and nothing is
// returned half-way. confusion.jsonl and the predictions files are optional (folders of earlier versions have
// none); when present, a value out of range (a label not below the class count, a probability outside [0, 1],
// arrays of different lengths) is an Error naming the file and the line or sample.

#include "run_data.h"

#include <QString>

namespace bnlab::app {

[[nodiscard]] RunData loadRun(const QString& folder);

}  // namespace bnlab::app
