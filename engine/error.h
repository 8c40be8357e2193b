#pragma once

#include <stdexcept>
#include <string>

namespace bnlab {

// Every error the engine reports. The message names the file, field or value that is wrong and,
// where it helps, the expected and the actual value. The engine never calls exit().
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A setting that is out of range or inconsistent with another (batch size 0, momentum 1.2, ...).
class ConfigError final : public Error {
public:
    using Error::Error;
};

// A data file that cannot be read or is not what its header says.
class DataError final : public Error {
public:
    using Error::Error;
};

}  // namespace bnlab
