// Decompressing views of a layer's byte stream. Internal to the unpack stage.
#pragma once

#include <memory>
#include <string_view>

#include "agent/unpack/unpack.h"

namespace berth::agent::unpack {

enum class Compression { kNone, kGzip, kZstd };

// Detects the compression from the first bytes of `raw` and returns a Source
// of the uncompressed bytes. `raw` must outlive the result. The result reads
// `raw` to its end and fails on a truncated or corrupt stream (gzip CRC and
// length, zstd frame checks); several concatenated gzip members or zstd frames
// are one stream, as with gunzip. Bytes after the last gzip member that do not
// start another member are ignored, as gunzip does.
Result<std::unique_ptr<Source>> Decompress(Source& raw, GzipDecoder gzip,
                                           Compression* detected = nullptr);

// True when this binary was built with ISA-L.
bool HaveIsal();

}  // namespace berth::agent::unpack
