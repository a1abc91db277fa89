// Small files written whole and atomically (keys, certificates): a reader
// sees the old file or the new one, never a part, and a crash leaves no
// half-written file where one is expected.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace berth {

// The contents of the file at `path`, nullopt when there is none. Fails
// (InternalFailure) when it cannot be read or holds more than `limit` bytes.
Result<std::optional<std::string>> ReadSmallFile(const std::string& path, size_t limit = 1 << 20);

enum class Existing { kKeep, kReplace };
// kSynced: file and directory are fsynced before the call returns (survives a power loss).
// kUnsynced: atomic against a crash of the process only (the page cache keeps it); for state
// that a host crash would make moot anyway (a container's, a network namespace's): an fsync
// costs ~5-15 ms on a busy disk.
enum class Durability { kSynced, kUnsynced };

// Writes `bytes` as the file at `path` with permissions `mode` (whatever the
// umask), through "<path>.tmp": whatever is at the temp path (a crash's
// leftover, a planted symlink) is unlinked, never written through; the temp
// file is created exclusively; file and directory are fsynced unless `durability`
// is kUnsynced. With Existing::kKeep a file already at `path` (another process's)
// is kept and the result is false; otherwise true.
Result<bool> WriteFileAtomically(const std::string& path, std::string_view bytes, mode_t mode,
                                 Existing existing = Existing::kReplace,
                                 Durability durability = Durability::kSynced);

}  // namespace berth
