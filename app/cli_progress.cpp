#include "cli_progress.h"

#include <cmath>
#include <string>

namespace bnlab::app {
namespace {
std::string duration(double s) {
    if (!std::isfinite(s) || s < 0) return "--:--";
    const long t = std::lround(s);
    char buf[32];
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
    return buf;
}
}  // namespace

CliProgress::CliProgress(std::FILE* out, bool terminal) : m_out(out), m_terminal(terminal) {}

void CliProgress::onStart(const engine::RunInfo& info) {
    m_info = info;
    m_lastPrint = std::chrono::steady_clock::now();
    std::fprintf(m_out, "training on %lld images (validation %lld, test %lld), %lld steps per epoch, %ld steps, %d thread(s)\n",
                 (long long)info.trainSamples, (long long)info.validationSamples, (long long)info.testSamples,
                 (long long)info.stepsPerEpoch, info.totalSteps, info.threads);
    std::fflush(m_out);
}

void CliProgress::printLine(const engine::StepRecord& r, bool final) {
    const double rate = r.seconds > 0 ? double(r.samples) / r.seconds : 0;
    const double eta = r.step > 0 ? r.seconds / double(r.step) * double(m_info.totalSteps - r.step) : NAN;
    const int width = 24;
    const int filled = m_info.totalSteps > 0 ? int(width * double(r.step) / double(m_info.totalSteps)) : 0;
    std::string bar = "[" + std::string(std::size_t(filled), '#') + std::string(std::size_t(width - filled), '.') + "]";
    char val[32] = "";
    if (m_lastValAccuracy >= 0) std::snprintf(val, sizeof val, " val %.4f", m_lastValAccuracy);
    std::fprintf(m_out, "%s%s epoch %.2f step %ld/%ld loss %.4f acc %.4f%s %.0f samples/s %s ETA %s%s",
                 m_terminal ? "\r" : "", m_terminal ? bar.c_str() : "", r.epoch, r.step, m_info.totalSteps, r.lossEma,
                 r.accuracyEma, val, rate, duration(r.seconds).c_str(), duration(eta).c_str(),
                 m_terminal && !final ? "\033[K" : "\n");
    std::fflush(m_out);
}

void CliProgress::onStep(const engine::StepRecord& r) {
    m_last = r;
    const auto now = std::chrono::steady_clock::now();
    const auto every = m_terminal ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
    if (now - m_lastPrint >= every) {
        m_lastPrint = now;
        printLine(r, false);
    }
}

void CliProgress::onEval(const engine::EvalRecord& r) {
    if (r.split == "validation") m_lastValAccuracy = r.accuracy;
    if (r.epochEnd) {
        if (m_terminal) std::fputs("\r\033[K", m_out);
        std::fprintf(m_out, "epoch %.0f done: step %ld, validation loss %.4f, accuracy %.4f\n", r.epoch, r.step, r.loss,
                     r.accuracy);
        std::fflush(m_out);
    }
}

void CliProgress::onChange(const engine::ChangeRecord& c) {
    if (m_terminal) std::fputs("\r\033[K", m_out);
    std::fprintf(m_out, c.applied ? "after step %ld: %s\n" : "after step %ld: not applied: %s\n", c.step,
                 c.description.c_str());
    std::fflush(m_out);
}

void CliProgress::onFinish(const engine::RunSummary& s) {
    if (m_terminal) std::fputs("\r\033[K", m_out);
    if (s.steps > 0) printLine(m_last, true);
    std::fprintf(m_out, "%s: %s\n", engine::toString(s.reason).c_str(), s.message.c_str());
    if (s.hasTest) std::fprintf(m_out, "test accuracy %.4f (loss %.4f)\n", s.testAccuracy, s.testLoss);
    std::fprintf(m_out, "%.0f samples/s over %ld steps, %.1f s\n", s.samplesPerSecond, s.steps, s.seconds);
    if (s.probes > 0 && s.sessionTrainingSeconds > 0)
        std::fprintf(m_out, "probes: %ld snapshots, %.2f s, %.1f%% of the training steps' time\n", s.probes,
                     s.probeSeconds, 100.0 * s.probeSeconds / s.sessionTrainingSeconds);
    std::fflush(m_out);
}

}  // namespace bnlab::app
