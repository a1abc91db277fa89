// The content store: content-addressed blobs on disk, shared by every image.
//
// Layout under the root directory:
//   blobs/sha256/<hex>          committed blobs (never modified, read-only 0444)
//   ingest/<hex>.partial        a blob being written (resumable)
// A blob is only ever visible under blobs/ after its bytes hashed to its
// digest and had the expected size, were fsync'd, and were renamed into place
// (and the directory fsync'd). A crash at any point (even kill -9) leaves at
// most a .partial file, which a later Begin() resumes after re-hashing it.
//
// Errors: a BlobError says what went wrong as a BlobFault, for callers that
// act on it (BlobFailure gives each fault its code and HTTP status); its
// message, for people, names the digest, or the path and errno text.
//
// A Store is safe to use from several threads; several processes may share one
// root (writers exclude each other with a lock on the .partial file).
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

namespace berth::agent::content {

// What a store operation failed on. Callers branch on this, never on the
// Error::code text, which is what users see.
enum class BlobFault {
  kInvalidDigest,   // "InvalidDigest" (400): not "sha256:<64 lower-case hex>"
  kNotFound,        // "NotFound" (404): no committed blob of that digest
  kBusy,            // "BlobBusy" (409): another Writer holds the digest
  kExists,          // "BlobExists" (409): already committed
  kDigestMismatch,  // "BlobDigestMismatch" (400): the bytes hash to another digest
  kSizeMismatch,    // "BlobSizeMismatch" (400): more or fewer bytes than expected
  kIo,              // "BlobStoreError" (500): an I/O failure
};

// An Error that also says which BlobFault it is; it converts to Error (and a
// BlobResult to a Result) where the fault no longer matters.
struct BlobError : Error {
  BlobFault fault = BlobFault::kIo;
};

template <class T>
using BlobResult = std::expected<T, BlobError>;
using BlobStatus = BlobResult<void>;

// The failure `fault` with its code and HTTP status (see BlobFault).
std::unexpected<BlobError> BlobFailure(BlobFault fault, std::string message);

// What the OCI image spec calls a descriptor: enough to fetch and verify a blob.
struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<64 lower-case hex>"
  int64_t size = -1;   // bytes; -1 when unknown
  std::map<std::string, std::string> annotations;
};

// Writes one blob. Not thread-safe; one writer per digest at a time: Begin
// fails with kBusy while another Writer for that digest is alive, in this
// process or in another one using the same root (an exclusive flock on the
// .partial file, released by the kernel even on kill -9).
class Writer {
 public:
  // An uncommitted writer keeps its .partial for a later resume.
  virtual ~Writer() = default;
  // Bytes already present (from a resumed .partial), plus bytes written since;
  // a resuming caller fetches from Offset() on (HTTP Range).
  virtual int64_t Offset() const = 0;
  // Appends bytes. Fails with kSizeMismatch (and discards the partial) as
  // soon as the data would exceed an expected size >= 0, so a server that
  // sends too much cannot fill the disk; kIo otherwise.
  virtual BlobStatus Write(std::string_view bytes) = 0;
  // In a store that writes around the page cache (StoreOptions), the writes that follow
  // go through it while `keep` is true: somebody reads those bytes back from the
  // store soon (a layer the streamed unpack could not take from the download). A
  // store writing through the cache anyway ignores it.
  virtual void KeepCached(bool keep) { (void)keep; }
  // Verifies size and digest, fsyncs and renames into blobs/. On a mismatch
  // the partial data is discarded and the error is kDigestMismatch or
  // kSizeMismatch, its message naming expected and actual values. The Writer
  // is finished after Commit, whatever its outcome.
  virtual BlobStatus Commit() = 0;
  // Throws the partial data away (e.g. the server sent something else).
  virtual void Discard() = 0;
};

// A committed blob open for reading: reads stream from the blob's file, so
// nothing is copied into memory, and they see exactly the committed bytes
// (a blob being written is never visible; a committed one is never modified).
// The reader owns its descriptor: what it opened stays readable to its end
// even if the blob is garbage-collected meanwhile. The bytes are not hashed
// again (the store did on commit; ReadBlob re-hashes small blobs). Move-only,
// not thread-safe.
class BlobReader {
 public:
  // `fd` must be open for reading at offset 0 on the bytes of blob `digest`,
  // `size` bytes long. Stores build readers; a test store may use a memfd.
  BlobReader(Fd fd, std::string digest, int64_t size)
      : fd_(std::move(fd)), digest_(std::move(digest)), size_(size) {}

  // Reads up to `size` bytes into `buffer` from where the last read ended;
  // 0 means the end of the blob. kIo on a read error.
  BlobResult<size_t> Read(char* buffer, size_t size);

  const std::string& digest() const { return digest_; }
  int64_t size() const { return size_; }

 private:
  Fd fd_;
  std::string digest_;
  int64_t size_;
};

struct StoreOptions {
  // Write blob data around the page cache (O_DIRECT) wherever it arrives in
  // whole, aligned blocks (kDirectAlignment), except while the writer is told
  // to keep it cached (Writer::KeepCached): for pulls whose blobs nobody reads
  // right away (`berth pull` without --dest; with --dest and in the agent the
  // streamed unpack takes a layer's bytes from the download itself, and the
  // blob on disk is only read again to rebuild an image). A blob's pages in
  // the cache were also memory the host's page cache lost for nothing: a pull
  // of an image used to fill it twice (blobs and rootfs). Copying into the page
  // cache was the one cost of a pull that a plain download does not have, and
  // on VMs that hand freed memory back to the host (virtio-balloon free page
  // reporting) each fresh page-cache page is faulted in again: the same copy
  // then took 3-4x as long. Other pieces (a blob's tail, a resumed offset,
  // unaligned buffers) go through the page cache as usual; Commit fsyncs
  // either way. Falls back to buffered writes where the filesystem refuses
  // O_DIRECT.
  bool write_around_cache = false;
};

// Buffers handed to Writer::Write at this alignment, in multiples of it, can
// be written around the cache.
inline constexpr size_t kDirectAlignment = 4096;

class Store {
 public:
  // Opens (creating) a store rooted at `root`.
  static Result<std::unique_ptr<Store>> Open(const std::string& root, StoreOptions options = {});
  virtual ~Store() = default;

  // True when the blob is committed. False for an invalid digest.
  virtual bool Has(std::string_view digest) const = 0;
  // The directory the store was opened on. Other agent state that belongs with
  // the blobs (image_pull's records) lives beside blobs/ and ingest/; blobs are
  // read only through OpenBlob and ReadBlob.
  virtual std::string Root() const = 0;
  // Opens a committed blob for streaming (large layers; see BlobReader).
  // kInvalidDigest; kNotFound when no committed blob has that digest (one
  // being written is not committed); kIo otherwise.
  virtual BlobResult<BlobReader> OpenBlob(std::string_view digest) const = 0;
  // Reads a whole committed blob (manifests, configs: small) and re-verifies
  // its digest. kNotFound if absent; kDigestMismatch if the bytes on disk
  // were corrupted, in which case the blob is removed so a pull fetches it again.
  virtual BlobResult<std::string> ReadBlob(std::string_view digest) const = 0;
  // Writes small content whose digest the caller computed (it is verified).
  // Succeeds without writing when the blob is already committed.
  virtual BlobStatus WriteBlob(const Descriptor& expected, std::string_view bytes) = 0;
  // Starts or resumes writing `expected` (its digest and, if >= 0, size are
  // checked). A resumed .partial is re-hashed first; one longer than the
  // expected size is restarted from zero. Fails with kExists when the blob
  // is already committed (callers check Has() first, as containerd's
  // ErrAlreadyExists), kBusy (see Writer), kInvalidDigest, kIo.
  virtual BlobResult<std::unique_ptr<Writer>> Begin(const Descriptor& expected) = 0;
  // Deletes every committed blob not in `keep` (digests), and every .partial
  // file no live Writer holds; returns the number of bytes freed.
  virtual Result<int64_t> GarbageCollect(const std::set<std::string>& keep) = 0;

  // StoreOptions::write_around_cache: writers take aligned blocks around the
  // page cache (a writer of blobs may queue more to keep the network busy).
  virtual bool WritesAroundCache() const { return false; }
  // Digests of the committed blobs, sorted.
  virtual Result<std::vector<std::string>> List() const = 0;
};

// True for "sha256:" followed by 64 lower-case hex characters.
bool IsValidDigest(std::string_view digest);

}  // namespace berth::agent::content
