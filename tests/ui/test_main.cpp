// The ui tests create widgets (never shown): a QApplication on the offscreen platform makes that possible.

#include <QApplication>
#include <QTemporaryDir>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
    // ctest sets the offscreen platform; so does this, for test discovery at build time and runs by hand.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    // The window remembers settings and saves runs under the user's folders: give the tests their own.
    QTemporaryDir home;
    qputenv("XDG_CONFIG_HOME", (home.path() + "/config").toUtf8());
    qputenv("XDG_DATA_HOME", (home.path() + "/data").toUtf8());
    QApplication app(argc, argv);
    QApplication::setOrganizationName("bnlab-tests");
    QApplication::setApplicationName("bnlab-tests");
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
