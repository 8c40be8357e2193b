#pragma once

// Waiting in the window's tests: the event loop runs (charts redraw, run records arrive) while we wait.

#include <QApplication>
#include <QElapsedTimer>

#include <functional>

namespace bnlab::test {

// Processes events until done() or the timeout; true when done.
inline bool waitUntil(const std::function<bool()>& done, int timeoutMs = 60000) {
    QElapsedTimer timer;
    timer.start();
    while (!done()) {
        if (timer.elapsed() > timeoutMs) return false;
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
