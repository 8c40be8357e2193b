// The ui tests create widgets (never shown): a QApplication on the offscreen platform makes that possible.

#include <QApplication>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
    // ctest sets the offscreen platform; so does this, for test discovery at build time and runs by hand.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
