#include "agent/unpack/decompress.h"

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#ifdef BERTH_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

namespace berth::agent::unpack {

namespace {

constexpr size_t kInputChunk = 256 << 10;

std::unexpected<Error> StreamError(std::string_view what) {
  return Fail("LayerUnpackError", std::string(what), 500);
}

// Buffered reader over the raw source, with the first bytes (sniffed for the
// format) replayed before the rest.
class Input {
 public:
  Input(Source& raw, std::string head) : raw_(raw), head_(std::move(head)) {}

  // Makes at least one unread byte available unless at the end. False at the end.
  Result<bool> Fill() {
    if (pos_ < len_) return true;
    pos_ = len_ = 0;
    if (!head_.empty()) {
      buf_.assign(head_.begin(), head_.end());
      len_ = head_.size();
      head_.clear();
      return true;
    }
    if (eof_) return false;
    buf_.resize(kInputChunk);
    size_t n = BERTH_TRY(raw_.Read(buf_.data(), buf_.size()));
    if (n == 0) {
      eof_ = true;
      return false;
    }
    len_ = n;
    return true;
  }
  // Reads and drops everything left, so the whole stream has been consumed.
  Status Drain() {
    pos_ = len_;
    for (;;) {
      if (!BERTH_TRY(Fill())) return {};
      pos_ = len_;
    }
  }

  uint8_t* data() { return reinterpret_cast<uint8_t*>(buf_.data()) + pos_; }
  size_t available() const { return len_ - pos_; }
  void Consume(size_t n) { pos_ += n; }
  bool at_end() const { return eof_ && pos_ == len_ && head_.empty(); }

 private:
  Source& raw_;
  std::string head_;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t len_ = 0;
  bool eof_ = false;
};

class PlainSource final : public Source {
 public:
  PlainSource(Source& raw, std::string head) : in_(raw, std::move(head)) {}
  Result<size_t> Read(char* out, size_t size) override {
    if (!BERTH_TRY(in_.Fill())) return 0;
    size_t n = std::min(size, in_.available());
    std::memcpy(out, in_.data(), n);
    in_.Consume(n);
    return n;
  }

 private:
  Input in_;
};

// Shared by the gzip decoders: after a member ends, another may follow (as
// pigz and cat a.gz b.gz produce); anything else ends the stream.
template <class Decoder>
class GzipSource final : public Source {
 public:
  GzipSource(Source& raw, std::string head) : in_(raw, std::move(head)) {}

  Result<size_t> Read(char* out, size_t size) override {
    if (done_) return 0;
    size = std::min<size_t>(size, std::numeric_limits<uint32_t>::max());
    for (;;) {
      if (member_ended_) {
        if (!BERTH_TRY(in_.Fill()) || in_.data()[0] != 0x1f) {
          BERTH_CHECK(in_.Drain());
          done_ = true;
          return 0;
        }
        decoder_.Reset();
        member_ended_ = false;
      }
      bool have_input = in_.available() > 0 || BERTH_TRY(in_.Fill());
      size_t consumed = 0, produced = 0;
      BERTH_CHECK(decoder_.Inflate(in_.data(), in_.available(), reinterpret_cast<uint8_t*>(out),
                                   size, &consumed, &produced, &member_ended_));
      in_.Consume(consumed);
      if (produced > 0) return produced;
      if (!have_input && !member_ended_) return StreamError("gzip stream is truncated");
    }
  }

 private:
  Input in_;
  Decoder decoder_;
  bool member_ended_ = false;
  bool done_ = false;
};

class ZlibDecoder {
 public:
  ZlibDecoder() {
    std::memset(&zs_, 0, sizeof zs_);
    ok_ = inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK;  // 16: gzip wrapper only
  }
  ~ZlibDecoder() {
    if (ok_) inflateEnd(&zs_);
  }
  void Reset() { inflateReset(&zs_); }
  Status Inflate(uint8_t* in, size_t in_size, uint8_t* out, size_t out_size, size_t* consumed,
                 size_t* produced, bool* ended) {
    if (!ok_) return StreamError("gzip: zlib initialisation failed");
    zs_.next_in = in;
    zs_.avail_in = static_cast<uInt>(std::min<size_t>(in_size, std::numeric_limits<uInt>::max()));
    zs_.next_out = out;
    zs_.avail_out = static_cast<uInt>(out_size);
    uInt avail_in = zs_.avail_in;
    int ret = inflate(&zs_, Z_NO_FLUSH);
    *consumed = avail_in - zs_.avail_in;
    *produced = out_size - zs_.avail_out;
    if (ret == Z_STREAM_END) {
      *ended = true;
      return {};
    }
    if (ret == Z_OK || ret == Z_BUF_ERROR) return {};  // BUF_ERROR: needs more input
    return StreamError(fmt::format("gzip: {}", zs_.msg ? zs_.msg : "corrupt stream"));
  }

 private:
  z_stream zs_;
  bool ok_ = false;
};

#ifdef BERTH_HAVE_ISAL
class IsalDecoder {
 public:
  IsalDecoder() : st_(std::make_unique<inflate_state>()) { Reset(); }
  void Reset() {
    isal_inflate_init(st_.get());
    st_->crc_flag = ISAL_GZIP;
  }
  Status Inflate(uint8_t* in, size_t in_size, uint8_t* out, size_t out_size, size_t* consumed,
                 size_t* produced, bool* ended) {
    st_->next_in = in;
    st_->avail_in = static_cast<uint32_t>(std::min<size_t>(in_size, UINT32_MAX));
    st_->next_out = out;
    st_->avail_out = static_cast<uint32_t>(out_size);
    uint32_t avail_in = st_->avail_in;
    int ret = isal_inflate(st_.get());
    *consumed = avail_in - st_->avail_in;
    *produced = out_size - st_->avail_out;
    if (ret < 0) return StreamError(fmt::format("gzip: {}", ErrorText(ret)));
    if (st_->block_state == ISAL_BLOCK_FINISH) *ended = true;
    return {};
  }

 private:
  static const char* ErrorText(int ret) {
    switch (ret) {
      case ISAL_INVALID_BLOCK:
        return "invalid deflate block";
      case ISAL_INVALID_SYMBOL:
        return "invalid deflate symbol";
      case ISAL_INVALID_LOOKBACK:
        return "invalid lookback distance";
      case ISAL_INVALID_WRAPPER:
        return "invalid gzip header";
      case ISAL_UNSUPPORTED_METHOD:
        return "unsupported compression method";
      case ISAL_INCORRECT_CHECKSUM:
        return "incorrect CRC";
      default:
        return "corrupt stream";
    }
  }
  std::unique_ptr<inflate_state> st_;  // about 80 KiB: not on the stack
};
#endif

class ZstdSource final : public Source {
 public:
  ZstdSource(Source& raw, std::string head) : in_(raw, std::move(head)), dctx_(ZSTD_createDCtx()) {}
  ~ZstdSource() override { ZSTD_freeDCtx(dctx_); }

  Result<size_t> Read(char* out, size_t size) override {
    if (!dctx_) return StreamError("zstd: cannot allocate a decoder");
    for (;;) {
      bool have_input = in_.available() > 0 || BERTH_TRY(in_.Fill());
      if (!have_input) {
        if (pending_ != 0) return StreamError("zstd stream is truncated");
        return 0;
      }
      ZSTD_inBuffer zin{in_.data(), in_.available(), 0};
      ZSTD_outBuffer zout{out, size, 0};
      size_t ret = ZSTD_decompressStream(dctx_, &zout, &zin);
      if (ZSTD_isError(ret)) return StreamError(fmt::format("zstd: {}", ZSTD_getErrorName(ret)));
      in_.Consume(zin.pos);
      pending_ = ret;
      if (zout.pos > 0) return zout.pos;
    }
  }

 private:
  Input in_;
  ZSTD_DCtx* dctx_;
  size_t pending_ = 0;  // 0 when the last frame is complete
};

}  // namespace

bool HaveIsal() {
#ifdef BERTH_HAVE_ISAL
  return true;
#else
  return false;
#endif
}

Result<std::unique_ptr<Source>> Decompress(Source& raw, GzipDecoder gzip, Compression* detected) {
  std::string head;
  char buf[4];
  while (head.size() < 4) {
    size_t n = BERTH_TRY(raw.Read(buf, 4 - head.size()));
    if (n == 0) break;
    head.append(buf, n);
  }
  auto starts = [&](std::string_view magic) { return std::string_view(head).starts_with(magic); };
  Compression kind = Compression::kNone;
  if (starts("\x1f\x8b")) {
    kind = Compression::kGzip;
  } else if (starts("\x28\xb5\x2f\xfd")) {
    kind = Compression::kZstd;
  }
  if (detected) *detected = kind;
  switch (kind) {
    case Compression::kGzip:
#ifdef BERTH_HAVE_ISAL
      if (gzip != GzipDecoder::kZlib) {
        return std::make_unique<GzipSource<IsalDecoder>>(raw, std::move(head));
      }
#endif
      (void)gzip;
      return std::make_unique<GzipSource<ZlibDecoder>>(raw, std::move(head));
    case Compression::kZstd:
      return std::make_unique<ZstdSource>(raw, std::move(head));
    case Compression::kNone:
      break;
  }
  return std::make_unique<PlainSource>(raw, std::move(head));
}

}  // namespace berth::agent::unpack
