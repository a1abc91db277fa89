// The resolver stage of the pull pipeline (DESIGN.md): turns a reference into
// verified manifest bytes and the descriptors of the blobs to fetch.
//
//   GET /v2/<repository>/manifests/<tag|digest>   Accept: OCI index+manifest,
//                                                 Docker manifest list+v2 manifest
//
// Every manifest's digest is the sha256 of the bytes received: it must equal the
// reference's digest when the reference pins one, the registry's
// Docker-Content-Digest header when it sends one, and the index entry's digest
// (and size) for a platform manifest. A multi-platform image resolves to the
// index's digest; the manifest for the wanted platform is fetched by digest.
#pragma once

#include <optional>
#include <string>

#include "agent/content/store.h"
#include "agent/reference/reference.h"
#include "agent/registry/authorizer.h"
#include "agent/registry/manifest.h"
#include "agent/registry/platform.h"
#include "agent/registry/transport.h"
#include "common/error.h"

namespace berth::agent::registry {

struct Resolved {
  // What the reference resolved to: the index's digest for a multi-platform
  // image, otherwise the manifest's (Docker's RepoDigest).
  std::string digest;
  // The index (media type, digest, size) and its bytes, when the reference
  // named one; nullopt otherwise.
  std::optional<content::Descriptor> index;
  std::string index_json;
  // The image manifest for the platform, and its bytes.
  content::Descriptor manifest;
  std::string manifest_json;
  // The index entry's platform; empty when the reference named a manifest.
  Platform platform;
  // Config and layers (bottom first), from the manifest.
  ImageManifest image;
};

class Resolver {
 public:
  // `transport` and `authorizer` must outlive the Resolver. Not thread-safe
  // (the Transport is not).
  Resolver(Transport& transport, Authorizer& authorizer, RetryPolicy retry = {});

  // Resolves `ref` for `platform` (used only when the reference names an index).
  // Errors are CannotPullContainerAuthError / CannotPullContainerError (see
  // errors.h) whose message starts with the reference, e.g.
  // "127.0.0.1:5000/team/app:v1: manifest v1: MANIFEST_UNKNOWN: manifest unknown (HTTP 404)";
  // a digest that does not match, an oversized or unknown manifest, and an
  // index without the platform are CannotPullContainerError too.
  Result<Resolved> Resolve(const reference::Reference& ref, const Platform& platform);

 private:
  struct Fetched {
    std::string media_type;
    std::string digest;  // sha256 of body
    std::string body;
  };
  // GETs manifest `locator` of `ref`'s repository, answering one 401 and
  // following redirects; checks its digest against `expected_digest` (if set)
  // and Docker-Content-Digest.
  Result<Fetched> FetchManifest(const reference::Reference& ref, const std::string& locator,
                                std::string_view expected_digest);

  Transport& transport_;
  Authorizer& authorizer_;
  RetryPolicy retry_;
};

}  // namespace berth::agent::registry
