// The content store: content-addressed blobs on disk, shared by every image.
//
// Layout under the root directory:
//   blobs/sha256/<hex>          committed blobs (never modified, read-only)
//   ingest/<hex>.partial        a blob being written (resumable)
// A blob is only ever visible under blobs/ after its bytes hashed to its
// digest and had the expected size, were fsync'd, and were renamed into place
// (and the directory fsync'd). A crash at any point (even kill -9) leaves at
// most a .partial file, which a later Begin() resumes after re-hashing it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::agent::content {

// What the OCI image spec calls a descriptor: enough to fetch and verify a blob.
struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<64 lower-case hex>"
  int64_t size = -1;   // bytes; -1 when unknown
  std::map<std::string, std::string> annotations;
};

// Writes one blob. Not thread-safe; one writer per digest at a time (Begin
// fails with "BlobBusy" for a digest already being written in this process).
class Writer {
 public:
  virtual ~Writer() = default;  // an uncommitted writer keeps its .partial for resume
  // Bytes already present (from a resumed .partial); the caller fetches from
  // here on (HTTP Range).
  virtual int64_t Offset() const = 0;
  virtual Status Write(std::string_view bytes) = 0;
  // Verifies size and digest, fsyncs and renames into blobs/. On a mismatch
  // the partial data is discarded and the error is "BlobDigestMismatch" or
  // "BlobSizeMismatch" naming expected and actual values.
  virtual Status Commit() = 0;
  // Throws the partial data away (e.g. the server sent something else).
  virtual void Discard() = 0;
};

class Store {
 public:
  // Opens (creating) a store rooted at `root`.
  static Result<std::unique_ptr<Store>> Open(const std::string& root);
  virtual ~Store() = default;

  virtual bool Has(std::string_view digest) const = 0;
  // Path of a committed blob (whether or not it exists).
  virtual std::string BlobPath(std::string_view digest) const = 0;
  // Reads a whole committed blob (manifests, configs: small). NotFound if absent.
  virtual Result<std::string> ReadBlob(std::string_view digest) const = 0;
  // Writes small content whose digest the caller computed (or verifies it).
  virtual Status WriteBlob(const Descriptor& expected, std::string_view bytes) = 0;
  // Starts or resumes writing `expected` (its digest and, if >= 0, size are checked).
  virtual Result<std::unique_ptr<Writer>> Begin(const Descriptor& expected) = 0;
  // Deletes every committed blob not in `keep`, and stale .partial files;
  // returns the number of bytes freed.
  virtual Result<int64_t> GarbageCollect(const std::set<std::string>& keep) = 0;
  virtual Result<std::vector<std::string>> List() const = 0;
};

// True for "sha256:" followed by 64 lower-case hex characters.
bool IsValidDigest(std::string_view digest);

}  // namespace berth::agent::content
