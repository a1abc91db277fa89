// The unpack stage: applies image layers, in order, to a root filesystem the
// way the OCI image spec (and `umoci unpack`) does.
//
// A layer is a tar archive, plain or compressed with gzip or zstd. Entries are
// created with their modes, mtimes/atimes, owners (only when running as root),
// xattrs (see below), symlinks and hard links. Whiteouts: `.wh.NAME` removes
// NAME as left by lower layers, `.wh..wh..opq` empties its directory of what
// lower layers put there; entries of the same layer are never removed by its
// own whiteouts, and no whiteout file is created. Directory times are restored
// after their contents are written.
//
// Safety: nothing is ever created, changed or removed outside `rootfs`.
//  - An entry name with a ".." component is refused; a leading "/" is stripped.
//  - Every parent path is resolved inside the rootfs as if it were "/" (a
//    symlink "evil -> /" makes "evil/x" land at rootfs/x, as it would inside
//    the container), and the entry itself is never followed if it is a symlink.
//  - A hard link's target is resolved the same way; a target that does not
//    exist inside the rootfs (e.g. the host's /etc/passwd) is an error.
//  - Character and block devices are skipped with a warning by default (the
//    runtime provides /dev; a device node in an image is a way to reach host
//    hardware). DevicePolicy::kRefuse makes them an error, kCreate creates them
//    when running as root. FIFOs are created; sockets are skipped.
//  - Xattrs: only `user.*` and `security.capability` are applied. Skipped, with
//    one warning per name and layer: `security.selinux` (the host's policy
//    labels files, not the image), other `security.*` (IMA/EVM signatures
//    bound to the build host), `trusted.*` (`trusted.overlay.*` would forge
//    overlayfs whiteouts and redirects if the rootfs becomes an overlay lower
//    dir) and `system.*` (ACLs and NFS metadata). A filesystem without xattr
//    support makes them warnings too. Symlinks, FIFOs and devices get no xattrs.
//
// Not as root: owners are not kept, devices are never created, and a
// directory whose mode denies its owner write access makes later entries
// inside it fail (umoci's rootless mode works around that; the agent runs as root).
//
// Input: layers are read from the content store (content::Store::OpenBlob),
// streamed from the blob's file without a copy, or pushed as they download
// (LayerStream). The content store is this stage's only neighbour: it knows
// blobs by digest, nothing of other stages.
//
// Errors: "LayerUnpackError" (http 500), whose message names the entry
// ("entry \"../x\": ...") or the limit a layer passed (UnpackOptions::max_bytes,
// max_entries); Unpack adds the layer ("layer 2 of 3 (sha256:ab..): ..."). A
// failed ApplyLayer may leave the rootfs half-written: the caller discards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/content/store.h"
#include "common/error.h"

namespace berth::agent::unpack {

enum class DevicePolicy { kSkip, kRefuse, kCreate };

// Default limits for one layer: generous for real images (the largest layers
// seen in practice are a few GiB, with up to a few hundred thousand files), finite
// against layers built to fill the disk or the inode table.
inline constexpr int64_t kDefaultMaxLayerBytes = int64_t{16} << 30;  // 16 GiB
inline constexpr int64_t kDefaultMaxLayerEntries = 1'000'000;

enum class GzipDecoder {
  kAuto,  // ISA-L igzip when built with it (2.5-4x zlib's speed here), else zlib
  kIsal,  // ISA-L; falls back to zlib when not built with it
  kZlib,
};

struct UnpackOptions {
  // chown entries to the layer's numeric uid/gid. Honoured only when the
  // process runs as root; otherwise files belong to the caller (as umoci's
  // rootless mode).
  bool preserve_owners = true;
  DevicePolicy devices = DevicePolicy::kSkip;
  GzipDecoder gzip = GzipDecoder::kAuto;
  // Receives each warning (skipped device, skipped xattr, ...). Default: log::Warn.
  std::function<void(const std::string&)> on_warning;
  // A layer whose uncompressed tar stream is longer than `max_bytes` (a few
  // MB of gzip can expand to GiBs), or that holds more than `max_entries`
  // entries (files, directories, links, whiteouts), fails as soon as the
  // limit is passed. Zero or less: no limit.
  int64_t max_bytes = kDefaultMaxLayerBytes;
  int64_t max_entries = kDefaultMaxLayerEntries;
};

// Layer media types this stage applies: OCI `...image.layer.v1.tar[+gzip|+zstd]`
// (and the nondistributable variants) and Docker `...image.rootfs.diff.tar.gzip`
// (and `.foreign.`). An empty media type is accepted too (compression is
// detected from the bytes). Encrypted and unknown types are not.
bool IsSupportedLayerMediaType(std::string_view media_type);

// Pull-style source of a layer's (compressed) bytes.
class Source {
 public:
  virtual ~Source() = default;
  // Reads up to `size` bytes into `buffer`; 0 means the end of the layer.
  virtual Result<size_t> Read(char* buffer, size_t size) = 0;
};

// Applies the layer `layer` describes (a committed blob of `store`, streamed
// from it to its end). `rootfs` must be an existing directory. Compression is
// detected from the first bytes (gzip, zstd or plain tar); the media type only
// has to be supported. The whole compressed stream is read and checked (gzip
// CRC, zstd frame) even past the tar's end. Decompression runs a few MiB ahead
// of extraction on a thread of its own. A blob the store cannot open fails
// with the store's BlobError (kNotFound: "blob <digest> not found").
Status ApplyLayer(const std::string& rootfs, const content::Store& store,
                  const content::Descriptor& layer, const UnpackOptions& options = {});
// Same, reading the layer from `source` (e.g. bytes arriving from a registry).
Status ApplyLayerFrom(const std::string& rootfs, Source& source, std::string_view media_type,
                      const UnpackOptions& options = {});

// Creates `rootfs` if missing and applies `layers` (committed blobs of
// `store`) in order, lowest first. A layer the store does not have fails with
// the store's message ("layer 1 of 2 (<digest>): blob <digest> not found").
Status Unpack(const std::string& rootfs, const content::Store& store,
              const std::vector<content::Descriptor>& layers, const UnpackOptions& options = {});

// Push-style application, so decompression and writing overlap with the
// download: Write() hands over bytes as they arrive; a worker thread applies
// them. The caller still verifies the blob's digest: when it does not match,
// the rootfs must be discarded.
class LayerStream {
 public:
  // Starts the worker. `rootfs` must be an existing directory.
  static Result<std::unique_ptr<LayerStream>> Start(const std::string& rootfs,
                                                    std::string_view media_type,
                                                    const UnpackOptions& options = {});
  // Stops the worker if Finish() was not called (the layer is left half-applied).
  ~LayerStream();

  // Queues `bytes` (copied), blocking while more than a few MiB wait. Fails
  // with the worker's error as soon as the layer is known to be bad.
  Status Write(std::string_view bytes);
  // Marks the end of the layer and waits for the worker; returns its outcome.
  Status Finish();

  struct Impl;

 private:
  explicit LayerStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent::unpack
