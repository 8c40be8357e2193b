// The app tests use Qt Core classes (files, JSON, temporary folders); a QCoreApplication makes them behave
// as they do inside the programs.

#include <QCoreApplication>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
