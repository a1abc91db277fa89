// The fetcher stage of the pull pipeline (DESIGN.md): downloads blobs into
// the content store, several at a time (libcurl multi).
//
//   GET /v2/<repository>/blobs/<digest>
//
// - Parallel: up to FetchOptions::parallelism transfers at once; a digest
//   listed twice is fetched once; blobs the store already has are skipped.
// - Redirects (to object storage) are followed, up to 10; the registry's
//   Authorization is sent to the registry's origin (scheme, host and port)
//   only, never to another. Every URL must be https unless its host is listed
//   as insecure in TransportOptions (loopback hosts included).
// - Resume: a transfer starts at Writer::Offset() with "Range: bytes=<offset>-"
//   (after a drop, or from a .partial a previous pull left). A server that
//   ignores the Range (200) or answers another range is read from the start.
// - Retries: 5xx, 429, 408, connection failures, resets, drops mid-body and
//   stalls (the low-speed timeout) are tried again with exponential backoff,
//   RetryPolicy::max_attempts in all, resuming where the data stopped.
// - Writing: each blob's bytes are written to its store Writer (which hashes
//   them) on a thread of its own, up to a few MiB behind the network, so
//   SHA-256 and the copies into the page cache of several blobs use several
//   cores while one thread receives (WriterPipe in fetcher.cc). Its buffers
//   are aligned whole blocks, so a store set to write around the page cache
//   (StoreOptions::write_around_cache) writes them with O_DIRECT.
// - Verification: the store checks size and digest on commit; a mismatch
//   (or more bytes than the descriptor's size) discards the data and fetches
//   the blob once more from the start before failing.
// - An overall deadline for the whole Fetch (FetchOptions::overall_timeout,
//   and TransportOptions::deadline, the whole pull's); when it passes, or any
//   blob fails for good, the other transfers are abandoned (their .partial
//   data is kept for a later resume) and Fetch returns the error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/content/store.h"
#include "agent/registry/authorizer.h"
#include "agent/registry/transport.h"
#include "common/error.h"

namespace berth::agent::registry {

struct BlobProgress {
  enum class State {
    kWaiting,         // queued, or waiting for another writer of the same blob
    kDownloading,     // bytes arriving
    kRetrying,        // waiting to try again (after a failure or a digest mismatch)
    kDone,            // verified and committed
    kAlreadyPresent,  // the store had it; not downloaded
    kFailed,
  };
  std::string digest;
  std::string media_type;  // the descriptor's: tells the config from the layers
  State state = State::kWaiting;
  int64_t done = 0;    // bytes in the store's writer (including resumed bytes)
  int64_t total = -1;  // the descriptor's size
  int attempt = 1;     // 1-based
};

// Called on the thread that runs Fetch: on every state change, and at most
// every FetchOptions::progress_interval per blob while downloading. Must be quick.
using ProgressCallback = std::function<void(const BlobProgress&)>;

// Called on the thread that runs Fetch once a blob is in the store: right
// after its commit, or as soon as the fetcher finds the store already has it
// (before the Fetch, or committed meanwhile by another writer). Once per
// distinct digest, with the descriptor as given to Fetch; never for a blob
// that failed. The hand-off to stages that read blobs (image_pull's
// pipelined unpack); progress reports are for display only. Must be quick.
using CommittedCallback = std::function<void(const content::Descriptor&)>;

// Sees each blob's bytes as they are written to the store, before they are verified: lets a
// stage consume a blob while it downloads (image_pull's streamed unpack). Nothing it sees may be
// trusted until on_committed names the blob; bytes seen before a Discarded are not the blob.
class BlobTap {
 public:
  virtual ~BlobTap() = default;
  // `bytes` of `blob` starting at `offset`, in order, on the blob's writing thread (not the
  // thread running Fetch), just before the store's writer takes them (a write the store then
  // fails fails the fetch). A resumed download starts at the offset its .partial held. Must not
  // block for long: the download waits meanwhile. True when the tap keeps (a copy of) the
  // bytes for itself, so nothing reads them back from the store soon: a store that writes
  // around the page cache then does (false: the store's writer keeps them cached).
  virtual bool Written(const content::Descriptor& blob, int64_t offset,
                       std::string_view bytes) = 0;
  // Everything written of `blob` so far was thrown away (a digest or size mismatch, a server
  // answering a Range with another range or none): what follows starts at offset 0 again.
  // On the thread running Fetch, after every Written of the discarded data.
  virtual void Discarded(const content::Descriptor& blob) = 0;
};

struct FetchOptions {
  int parallelism = 4;
  RetryPolicy retry;
  // Deadline for a whole Fetch call; zero for none.
  std::chrono::milliseconds overall_timeout{0};
  ProgressCallback progress;
  std::chrono::milliseconds progress_interval{100};
  CommittedCallback on_committed;
  BlobTap* tap = nullptr;  // null: none; must outlive the Fetch
};

class Fetcher {
 public:
  // `authorizer` and `store` must outlive the Fetcher.
  Fetcher(TransportOptions transport, Authorizer& authorizer, content::Store& store,
          FetchOptions options = {});

  // Fetches `blobs` of `registry` (host[:port]) / `repository` into the store;
  // blocks until every blob is committed or one has failed. Descriptors must
  // carry a sha256 digest and a size. Errors: CannotPullContainerAuthError /
  // CannotPullContainerError (errors.h), the message naming
  // "<registry>/<repository>: blob <digest>" and what went wrong (the
  // registry's error code, the transport failure after the last attempt, the
  // digest mismatch, the timeout).
  Status Fetch(std::string_view registry, std::string_view repository,
               const std::vector<content::Descriptor>& blobs);

 private:
  TransportOptions transport_;
  Authorizer& authorizer_;
  content::Store& store_;
  FetchOptions options_;
};

}  // namespace berth::agent::registry
