#include "store/kv.h"

#include <fmt/format.h>

namespace berth::store {

Error LeaseNotFound(int64_t lease) {
  return Error{std::string(kLeaseNotFoundCode),
               fmt::format("lease {} not found (expired or revoked)", lease), 404};
}

Result<int64_t> Kv::Put(std::string key, std::string value) {
  Txn txn;
  txn.ops.push_back(Op::Put(std::move(key), std::move(value)));
  auto r = BERTH_TRY(Commit(txn));
  return r.revision;
}

Result<int64_t> Kv::Delete(std::string key) {
  Txn txn;
  txn.ops.push_back(Op::Delete(std::move(key)));
  auto r = BERTH_TRY(Commit(txn));
  return r.revision;
}

}  // namespace berth::store
