// readIdx: round trips (raw and gzipped) and every malformed-file check.

#include "error.h"
#include "idx.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using bnlab::DataError;
using bnlab::engine::readIdx;
using Bytes = std::vector<std::uint8_t>;

namespace {

// A fresh folder under the system's temporary directory, removed with everything in it.
class TempDir {
public:
    TempDir() {
        const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        m_path =
            fs::temp_directory_path() / ("bnlab_idx_" + test + "_" + std::to_string(std::random_device{}()));
        fs::create_directories(m_path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    fs::path operator/(const std::string& name) const { return m_path / name; }

private:
    fs::path m_path;
};

// An IDX file's bytes: 0, 0, type, number of dimensions, big-endian dimensions, data.
Bytes idxBytes(const std::vector<std::uint32_t>& dims, const Bytes& data, std::uint8_t type = 0x08) {
    Bytes bytes = {0, 0, type, std::uint8_t(dims.size())};
    for (std::uint32_t d : dims) {
        for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(std::uint8_t(d >> shift));
    }
    bytes.insert(bytes.end(), data.begin(), data.end());
    return bytes;
}

void writeFile(const fs::path& file, const Bytes& bytes, bool gzip = false) {
    if (gzip) {
        gzFile gz = gzopen(file.c_str(), "wb");
        ASSERT_NE(gz, nullptr) << file;
        ASSERT_EQ(gzwrite(gz, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
        ASSERT_EQ(gzclose(gz), Z_OK);
    } else {
        std::ofstream out(file, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        ASSERT_TRUE(out.good()) << file;
    }
}

Bytes readFileBytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes sequence(std::size_t n) {
    Bytes data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = std::uint8_t(i * 7 + 3);
    return data;
}

// readIdx must throw DataError whose message names the file and contains `phrase`.
void expectDataError(const fs::path& file, const std::string& phrase) {
    try {
        (void)readIdx(file);
        ADD_FAILURE() << "no DataError for " << file;
    } catch (const DataError& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find(file.filename().string()), std::string::npos)
            << "file not named in: " << message;
        EXPECT_NE(message.find(phrase), std::string::npos) << "missing \"" << phrase << "\" in: " << message;
    }
}

}  // namespace

TEST(Idx, RawRoundTrip) {
    TempDir dir;
    const Bytes data = sequence(3 * 2 * 5);
    writeFile(dir / "images", idxBytes({3, 2, 5}, data));
    const auto idx = readIdx(dir / "images");
    EXPECT_EQ(idx.dims, (std::vector<std::uint32_t>{3, 2, 5}));
    EXPECT_EQ(idx.data, data);
}

TEST(Idx, GzipRoundTrip) {
    TempDir dir;
    const Bytes data = sequence(300000);  // several zlib blocks
    writeFile(dir / "labels.gz", idxBytes({300000}, data), true);
    const auto idx = readIdx(dir / "labels.gz");
    EXPECT_EQ(idx.dims, (std::vector<std::uint32_t>{300000}));
    EXPECT_EQ(idx.data, data);
}

TEST(Idx, GzipDetectedByMagicNotByName) {
    TempDir dir;
    writeFile(dir / "plain-name", idxBytes({2, 2}, {1, 2, 3, 4}), true);
    writeFile(dir / "raw.gz", idxBytes({2, 2}, {5, 6, 7, 8}));
    EXPECT_EQ(readIdx(dir / "plain-name").data, (Bytes{1, 2, 3, 4}));
    EXPECT_EQ(readIdx(dir / "raw.gz").data, (Bytes{5, 6, 7, 8}));
}

TEST(Idx, BadMagic) {
    TempDir dir;
    Bytes bytes = idxBytes({4}, sequence(4));
    bytes[1] = 0x01;
    writeFile(dir / "magic", bytes);
    writeFile(dir / "magic.gz", bytes, true);
    expectDataError(dir / "magic", "bad magic");
    expectDataError(dir / "magic.gz", "bad magic");
}

TEST(Idx, UnsupportedType) {
    TempDir dir;
    writeFile(dir / "floats", idxBytes({4}, sequence(16), 0x0D));
    expectDataError(dir / "floats", "unsupported data type 0x0D, only unsigned byte 0x08");
}

TEST(Idx, DimensionCount) {
    TempDir dir;
    writeFile(dir / "zero", idxBytes({}, {}));
    writeFile(dir / "five", idxBytes({1, 1, 1, 1, 1}, {9}));
    expectDataError(dir / "zero", "0 dimensions, expected 1 to 4");
    expectDataError(dir / "five", "5 dimensions, expected 1 to 4");
}

TEST(Idx, HeaderTruncated) {
    TempDir dir;
    writeFile(dir / "empty", {});
    writeFile(dir / "two", {0, 0});
    const Bytes header = idxBytes({3, 2, 5}, {});
    writeFile(dir / "dims", Bytes(header.begin(), header.begin() + 10));
    expectDataError(dir / "empty", "header too short: expected at least 4 bytes, found 0");
    expectDataError(dir / "two", "header too short: expected at least 4 bytes, found 2");
    expectDataError(dir / "dims", "header too short for 3 dimensions: expected 16 bytes, found 10");
}

TEST(Idx, TruncatedPayload) {
    TempDir dir;
    writeFile(dir / "short", idxBytes({3, 2, 5}, sequence(20)));
    writeFile(dir / "short.gz", idxBytes({3, 2, 5}, sequence(20)), true);
    expectDataError(dir / "short", "truncated: dimensions 3x2x5 need 30 bytes of data, found 20");
    expectDataError(dir / "short.gz", "found 20 (after gunzip)");
}

TEST(Idx, TrailingBytes) {
    TempDir dir;
    writeFile(dir / "long", idxBytes({3, 2, 5}, sequence(33)));
    expectDataError(dir / "long", "3 trailing bytes: dimensions 3x2x5 need 30 bytes of data, found 33");
}

TEST(Idx, AbsurdDimensions) {
    TempDir dir;
    writeFile(dir / "huge", idxBytes({65535, 65535, 65535}, sequence(8)));
    writeFile(dir / "max", idxBytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, {}));
    expectDataError(dir / "huge", "dimensions 65535x65535x65535 give more than 2147483647 bytes");
    expectDataError(dir / "max", "give more than");
}

TEST(Idx, GzipGarbage) {
    TempDir dir;
    std::mt19937 rng(1234);
    Bytes bytes = {0x1f, 0x8b};
    for (int i = 0; i < 4000; ++i) bytes.push_back(std::uint8_t(rng()));
    writeFile(dir / "garbage.gz", bytes);
    expectDataError(dir / "garbage.gz", "gzip data corrupt or truncated");

    // A well-formed 10-byte gzip header (deflate, no flags, Unix) followed by random deflate data.
    Bytes deflate = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03};
    for (int i = 0; i < 4000; ++i) deflate.push_back(std::uint8_t(rng()));
    writeFile(dir / "deflate.gz", deflate);
    expectDataError(dir / "deflate.gz", "gzip data corrupt or truncated (zlib: ");
}

TEST(Idx, GzipStreamTruncated) {
    TempDir dir;
    std::mt19937 rng(99);
    Bytes data(50000);
    for (auto& b : data) b = std::uint8_t(rng() % 16);  // compresses, but not to nothing
    writeFile(dir / "full.gz", idxBytes({50000}, data), true);
    const Bytes gz = readFileBytes(dir / "full.gz");
    ASSERT_GT(gz.size(), 100u);
    writeFile(dir / "cut.gz", Bytes(gz.begin(), gz.begin() + std::ptrdiff_t(gz.size() / 2)));
    writeFile(dir / "notrailer.gz", Bytes(gz.begin(), gz.end() - 4));
    expectDataError(dir / "cut.gz", "gzip data corrupt or truncated");
    expectDataError(dir / "notrailer.gz", "gzip data corrupt or truncated");
}

TEST(Idx, MissingFile) {
    TempDir dir;
    expectDataError(dir / "nothing-here", "file not found");
}

TEST(Idx, FolderInsteadOfFile) {
    TempDir dir;
    fs::create_directory(dir / "sub");
    expectDataError(dir / "sub", "is a folder");
}
