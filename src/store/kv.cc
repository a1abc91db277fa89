#include "store/kv.h"

namespace berth::store {

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
