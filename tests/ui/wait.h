#pragma once

// Waiting in the window's tests: the event loop runs (charts redraw, run records arrive) while we wait.

#include <QApplication>
#include <QElapsedTimer>

#include <algorithm>
#include <functional>

namespace bnlab::test {

// Processes events until done() or the timeout (times BNLAB_TEST_TIMEOUT_SCALE, set by the sanitizer test
// presets); true when done.
inline bool waitUntil(const std::function<bool()>& done, int timeoutMs = 60000) {
    const int scale = std::max(1, qEnvironmentVariableIntValue("BNLAB_TEST_TIMEOUT_SCALE"));
    QElapsedTimer timer;
    timer.start();
    while (!done()) {
        if (timer.elapsed() > qint64(timeoutMs) * scale) return false;
        QApplication::processEvents(QEventLoop::AllEvents, 20);
    }
    return true;
}

inline void processFor(int ms) {
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 10);
}

}  // namespace bnlab::test
