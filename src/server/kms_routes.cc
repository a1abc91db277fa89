#include "aws/json_protocol.h"
#include "common/strings.h"
#include "server/routes.h"

namespace berth::server {

aws::JsonService KmsRoutes(kms::Service& kms) {
  aws::JsonService svc;
  svc.signing_name = "kms";
  svc.target_prefix = "TrentService";
  svc.operations["GenerateRandom"] = aws::JsonOp(
      [&kms](const aws::RequestContext&, const json::Json& in) -> Result<json::Json> {
        std::optional<long long> n;
        if (auto it = in.find("NumberOfBytes"); it != in.end() && !it->is_null()) {
          if (!it->is_number_integer()) {
            return Fail("SerializationException", "NumberOfBytes must be an integer.");
          }
          n = it->get<long long>();
        }
        auto bytes = BERTH_TRY(kms.GenerateRandom(n));
        return json::Json{{"Plaintext", Base64Encode(bytes)}};
      });
  return svc;
}

}  // namespace berth::server
