#include "idx.h"

#include "error.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

namespace bnlab::engine {

namespace fs = std::filesystem;

namespace {

// Far above any image dataset (MNIST's training images are 47 MB) and keeps H, W and N within int.
constexpr std::uint64_t kMaxDataBytes = std::numeric_limits<std::int32_t>::max();
constexpr std::uint64_t kMaxFileBytes = kMaxDataBytes + 4 + 4 * 4;  // data + the largest header
constexpr std::size_t kMaxDims = 4;
constexpr unsigned kChunk = 4u << 20;  // gzread block size

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
    throw DataError(file.string() + ": " + what);
}

std::string hexByte(std::uint8_t b) {
    char text[8];
    std::snprintf(text, sizeof text, "0x%02X", unsigned(b));
    return text;
}

std::string dimsText(const std::vector<std::uint32_t>& dims) {
    std::string text;
    for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? "x" : "") + std::to_string(dims[i]);
    return text;
}

// The whole file in memory, gunzipped when needed.
struct FileBytes {
    std::vector<std::uint8_t> bytes;
    bool gzipped = false;
};

// Owns a gzFile; gzclose_r's result is checked by the caller, the destructor only cleans up after a throw.
struct GzFile {
    gzFile handle = nullptr;
    ~GzFile() {
        if (handle) gzclose_r(handle);
    }
};

// gzerror's message starts with the path again; keep only zlib's own words.
[[noreturn]] void failGzip(const fs::path& file, const char* message) {
    std::string what = message && *message ? message : "unknown error";
    const std::string prefix = file.string() + ": ";
    if (what.starts_with(prefix)) what.erase(0, prefix.size());
    fail(file, "gzip data corrupt or truncated (zlib: " + what + ")");
}

std::vector<std::uint8_t> readGzip(const fs::path& file, std::uint64_t fileSize, std::ifstream& in) {
    // The gzip trailer holds the uncompressed size mod 2^32: a good reservation hint, bounded by
    // deflate's largest ratio (about 1032:1) in case the trailer is garbage.
    std::uint64_t hint = 0;
    std::uint8_t trailer[4] = {};
    if (fileSize >= 18 && in.seekg(std::streamoff(fileSize - 4)) &&
        in.read(reinterpret_cast<char*>(trailer), 4)) {
        hint = trailer[0] | trailer[1] << 8 | trailer[2] << 16 | std::uint64_t(trailer[3]) << 24;
    }
    hint = std::min({hint, fileSize * 1032, kMaxFileBytes});

    GzFile gz;
    gz.handle = gzopen(file.c_str(), "rb");
    if (!gz.handle) fail(file, std::string("cannot open for reading: ") + std::strerror(errno));
    gzbuffer(gz.handle, 1u << 20);

    // Reading in whole chunks from the start, the last read begins at most at `hint`, so this
    // reservation avoids any reallocation when the hint is right.
    std::vector<std::uint8_t> out;
    out.reserve(hint + kChunk);
    for (;;) {
        const std::size_t old = out.size();
        out.resize(old + kChunk);
        const int got = gzread(gz.handle, out.data() + old, kChunk);
        out.resize(old + std::size_t(std::max(got, 0)));
        int code = Z_OK;
        const char* message = gzerror(gz.handle, &code);
        if (got < 0 || (code != Z_OK && code != Z_STREAM_END)) failGzip(file, message);
        if (got == 0) break;
        if (out.size() > kMaxFileBytes) {
            fail(file, "decompresses to more than " + std::to_string(kMaxFileBytes) + " bytes (the limit)");
        }
    }
    // Up to a chunk of spare capacity would stay with the dataset for the whole run (4 MB per file).
    if (out.capacity() - out.size() > (1u << 16)) out.shrink_to_fit();
    const int closed = gzclose_r(gz.handle);
    gz.handle = nullptr;
    if (closed != Z_OK) failGzip(file, closed == Z_BUF_ERROR ? "unexpected end of file" : zError(closed));
    return out;
}

FileBytes readFile(const fs::path& file) {
    std::error_code ec;
    const fs::file_status status = fs::status(file, ec);
    if (!fs::exists(status)) fail(file, "file not found");
    if (fs::is_directory(status)) fail(file, "is a folder, expected an IDX file");
    const std::uint64_t size = fs::file_size(file, ec);
    if (ec) fail(file, "cannot read its size: " + ec.message());

    std::ifstream in(file, std::ios::binary);
    if (!in) fail(file, std::string("cannot open for reading: ") + std::strerror(errno));
    std::uint8_t magic[2] = {};
    in.read(reinterpret_cast<char*>(magic), 2);
    if (in.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b) return {readGzip(file, size, in), true};

    if (size > kMaxFileBytes) {
        fail(file, "is " + std::to_string(size) + " bytes, more than the limit of " +
                       std::to_string(kMaxFileBytes));
    }
    FileBytes result;
    result.bytes.resize(std::size_t(size));
    in.clear();
    in.seekg(0);
    in.read(reinterpret_cast<char*>(result.bytes.data()), std::streamsize(size));
    if (std::uint64_t(in.gcount()) != size) {
        fail(file,
             "read error: expected " + std::to_string(size) + " bytes, got " + std::to_string(in.gcount()));
    }
    return result;
}

}  // namespace

IdxArray readIdx(const fs::path& file) {
    FileBytes content = readFile(file);
    std::vector<std::uint8_t>& bytes = content.bytes;
    const std::string unpacked = content.gzipped ? " (after gunzip)" : "";

    if (bytes.size() < 4) {
        fail(file,
             "header too short: expected at least 4 bytes, found " + std::to_string(bytes.size()) + unpacked);
    }
    if (bytes[0] != 0 || bytes[1] != 0) {
        fail(file, "bad magic: the first two bytes are " + hexByte(bytes[0]) + " " + hexByte(bytes[1]) +
                       ", expected 0x00 0x00 (not an IDX file?)");
    }
    if (bytes[2] != 0x08) {
        fail(file, "unsupported data type " + hexByte(bytes[2]) + ", only unsigned byte 0x08 is supported");
    }
    const std::size_t numDims = bytes[3];
    if (numDims == 0 || numDims > kMaxDims) {
        fail(file, std::to_string(numDims) + " dimensions, expected 1 to " + std::to_string(kMaxDims));
    }
    const std::size_t headerSize = 4 + 4 * numDims;
    if (bytes.size() < headerSize) {
        fail(file, "header too short for " + std::to_string(numDims) + " dimensions: expected " +
                       std::to_string(headerSize) + " bytes, found " + std::to_string(bytes.size()) +
                       unpacked);
    }

    IdxArray result;
    std::uint64_t expected = 1;  // saturates above kMaxDataBytes; a zero dimension still gives 0
    for (std::size_t i = 0; i < numDims; ++i) {
        const std::uint8_t* p = bytes.data() + 4 + 4 * i;
        const std::uint32_t d = std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | p[2] << 8 | p[3];
        result.dims.push_back(d);
        expected = (d != 0 && expected > kMaxDataBytes / d) ? kMaxDataBytes + 1 : expected * d;
    }
    const std::string dims = dimsText(result.dims);
    if (expected > kMaxDataBytes) {
        fail(file, "dimensions " + dims + " give more than " + std::to_string(kMaxDataBytes) +
                       " bytes (the limit)");
    }
    const std::uint64_t found = bytes.size() - headerSize;
    if (found != expected) {
        const std::string what =
            found < expected ? "truncated" : std::to_string(found - expected) + " trailing bytes";
        fail(file, what + ": dimensions " + dims + " need " + std::to_string(expected) +
                       " bytes of data, found " + std::to_string(found) + unpacked);
    }

    // Drop the header in place: one buffer, no second copy of the payload.
    bytes.erase(bytes.begin(), bytes.begin() + std::ptrdiff_t(headerSize));
    result.data = std::move(bytes);
    return result;
}

}  // namespace bnlab::engine
