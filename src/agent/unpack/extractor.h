// Applies one uncompressed tar stream to a rootfs (the OCI layer changeset
// rules and the safety rules of unpack.h). Internal to the unpack stage.
#pragma once

#include "agent/unpack/root_dir.h"
#include "agent/unpack/unpack.h"

namespace berth::agent::unpack {

// Reads `tar` to its end. Errors are "LayerUnpackError" naming the entry.
Status ExtractTar(const RootDir& root, Source& tar, const UnpackOptions& options);

}  // namespace berth::agent::unpack
