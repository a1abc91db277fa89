#include "agent/unpack/extractor.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/log.h"

namespace berth::agent::unpack {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";
constexpr size_t kTarBuffer = 1 << 20;
constexpr size_t kMaxCachedParents = 64;

std::unexpected<Error> UnpackError(std::string message) {
  return Fail("LayerUnpackError", std::move(message), 500);
}

std::unexpected<Error> ErrnoError(std::string_view what, int err = errno) {
  return UnpackError(fmt::format("{}: {}", what, std::strerror(err)));
}

// The entry name as a path relative to the rootfs: no leading "/", no "." or
// empty components. A ".." component is refused, never interpreted.
Result<std::string> CleanPath(std::string_view name) {
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return UnpackError("path has a \"..\" component");
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

std::pair<std::string, std::string> SplitPath(const std::string& clean) {
  size_t slash = clean.rfind('/');
  if (slash == std::string::npos) return {"", clean};
  return {clean.substr(0, slash), clean.substr(slash + 1)};
}

std::string JoinPath(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

using Times = std::array<struct timespec, 2>;  // atime, mtime

Times EntryTimes(archive_entry* e) {
  Times t;
  t[1].tv_sec = archive_entry_mtime(e);
  t[1].tv_nsec = archive_entry_mtime_nsec(e);
  if (archive_entry_atime_is_set(e)) {
    t[0].tv_sec = archive_entry_atime(e);
    t[0].tv_nsec = archive_entry_atime_nsec(e);
  } else {
    t[0] = t[1];
  }
  return t;
}

class Extractor {
 public:
  Extractor(const RootDir& root, Source& tar, const UnpackOptions& options)
      : root_(root),
        tar_(tar),
        options_(options),
        is_root_(::geteuid() == 0),
        chown_(options.preserve_owners && is_root_),
        buffer_(kTarBuffer) {}

  Status Run() {
    struct ArchiveFree {
      void operator()(archive* a) const { archive_read_free(a); }
    };
    std::unique_ptr<archive, ArchiveFree> holder(archive_read_new());
    archive* a = holder.get();
    if (!a) return UnpackError("cannot allocate a tar reader");
    archive_read_support_format_tar(a);
    archive_read_support_format_empty(a);
    if (archive_read_open(a, this, nullptr, &Extractor::ReadCallback, nullptr) != ARCHIVE_OK) {
      return ArchiveError(a, "cannot read the layer");
    }
    for (;;) {
      archive_entry* entry = nullptr;
      int r = archive_read_next_header(a, &entry);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return ArchiveError(a, "cannot read the next tar header");
      if (options_.max_entries > 0 && ++entries_ > options_.max_entries) {
        return UnpackError(fmt::format(
            "the layer has more than {} entries, the limit for one layer", options_.max_entries));
      }
      const char* name = archive_entry_pathname(entry);
      name_ = name ? name : "";
      if (!name) return UnpackError("an entry has a name that cannot be decoded");
      Status st = ApplyEntry(a, entry);
      if (!st) {
        return UnpackError(fmt::format("entry \"{}\": {}", name_, st.error().message));
      }
    }
    // The rest of the stream (tar padding, the gzip trailer) is read too, so
    // a corrupt or truncated end is noticed.
    for (;;) {
      size_t n = BERTH_TRY(tar_.Read(buffer_.data(), buffer_.size()));
      if (n == 0) break;
    }
    parents_.clear();
    RestoreDirTimes();
    return {};
  }

 private:
  static la_ssize_t ReadCallback(archive* a, void* client, const void** buffer) {
    auto* self = static_cast<Extractor*>(client);
    auto n = self->tar_.Read(self->buffer_.data(), self->buffer_.size());
    if (!n) {
      self->read_error_ = n.error();
      archive_set_error(a, EIO, "%s", n.error().message.c_str());
      return -1;
    }
    *buffer = self->buffer_.data();
    return static_cast<la_ssize_t>(*n);
  }

  std::unexpected<Error> ArchiveError(archive* a, std::string_view what) {
    if (read_error_) return Fail(*read_error_);  // the decompressor's own words
    const char* text = archive_error_string(a);
    return UnpackError(fmt::format("{}: {}", what, text ? text : "unknown libarchive error"));
  }

  void Warn(const std::string& message) {
    std::string full = fmt::format("entry \"{}\": {}", name_, message);
    if (options_.on_warning) {
      options_.on_warning(full);
    } else {
      log::Warn("layer entry not applied as is", {{"detail", full}});
    }
  }

  Status ApplyEntry(archive* a, archive_entry* e) {
    if (parents_stale_) {
      parents_.clear();
      parents_stale_ = false;
    }
    std::string clean = BERTH_TRY(CleanPath(name_));
    if (clean.empty()) return ApplyRootEntry(e);
    auto [parent, base] = SplitPath(clean);
    if (base.starts_with(kWhiteoutPrefix)) return ApplyWhiteout(parent, base);
    MarkUpper(clean);
    int pfd = Parent(parent, /*create=*/true);
    if (pfd < 0) {
      return ErrnoError(fmt::format("cannot open parent directory \"{}\"", parent), -pfd);
    }
    NoteDirTimes(parent, pfd);
    if (const char* target = archive_entry_hardlink(e)) {
      return MakeHardLink(pfd, base, clean, target);
    }
    switch (archive_entry_filetype(e)) {
      case AE_IFREG:
        return MakeFile(a, e, pfd, base);
      case AE_IFDIR:
        return MakeDir(e, pfd, base, clean);
      case AE_IFLNK:
        return MakeSymlink(e, pfd, base);
      case AE_IFCHR:
      case AE_IFBLK:
        return MakeDevice(e, pfd, base);
      case AE_IFIFO:
        return MakeNode(e, pfd, base, S_IFIFO, 0);
      case AE_IFSOCK:
        Warn("socket skipped");
        return {};
      default:
        return UnpackError(fmt::format("unsupported entry type {:o}", archive_entry_filetype(e)));
    }
  }

  Status ApplyRootEntry(archive_entry* e) {
    if (archive_entry_filetype(e) != AE_IFDIR || archive_entry_hardlink(e)) {
      return UnpackError("the root can only be a directory");
    }
    Fd dir(::openat(root_.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) return ErrnoError("open rootfs");
    BERTH_CHECK(ApplyAttributes(dir.get(), e));
    dir_times_[""] = EntryTimes(e);
    return {};
  }

  // --- whiteouts ---

  Status ApplyWhiteout(const std::string& parent, const std::string& base) {
    if (base == kOpaqueWhiteout) {
      int pfd = Parent(parent, /*create=*/false);
      if (pfd == -ENOENT || pfd == -ENOTDIR) return {};  // nothing below to hide
      if (pfd < 0) return ErrnoError(fmt::format("open \"{}\"", parent), -pfd);
      NoteDirTimes(parent, pfd);
      Fd dir(::openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!dir.valid()) return ErrnoError(fmt::format("open \"{}\"", parent));
      parents_stale_ = true;
      return ClearDir(dir.get(), parent, /*keep_upper=*/true);
    }
    if (base.starts_with(".wh..wh.")) return {};  // aufs bookkeeping (.wh..wh.plnk): not content
    std::string name = base.substr(kWhiteoutPrefix.size());
    if (name.empty() || name == "." || name == "..") return UnpackError("malformed whiteout");
    int pfd = Parent(parent, /*create=*/false);
    if (pfd == -ENOENT || pfd == -ENOTDIR) return {};
    if (pfd < 0) return ErrnoError(fmt::format("open \"{}\"", parent), -pfd);
    struct stat st;
    if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
    NoteDirTimes(parent, pfd);
    std::string target = JoinPath(parent, name);
    if (!upper_.contains(target)) return Remove(pfd, name, target, /*keep_upper=*/false);
    // Whiteouts only hide lower layers: what this layer put there stays.
    if (!S_ISDIR(st.st_mode)) return {};
    Fd dir(::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) return ErrnoError(fmt::format("open \"{}\"", target));
    parents_stale_ = true;
    return ClearDir(dir.get(), target, /*keep_upper=*/true);
  }

  // Records `clean` and its ancestors as written by this layer.
  void MarkUpper(const std::string& clean) {
    if (!upper_.insert(clean).second) return;
    std::string_view p = clean;
    for (;;) {
      size_t slash = p.rfind('/');
      if (slash == std::string_view::npos) return;
      p = p.substr(0, slash);
      if (!upper_.emplace(p).second) return;  // its ancestors are there too
    }
  }

  // Removes `name` in `dirfd` (a file or a whole tree). With `keep_upper`,
  // paths this layer wrote, and the directories leading to them, survive.
  Status Remove(int dirfd, const std::string& name, const std::string& rel, bool keep_upper) {
    parents_stale_ = true;  // a cached directory may be inside what goes
    if (keep_upper && upper_.contains(rel)) {
      struct stat st;
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
        return {};
      }
      Fd dir(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dir.valid()) return ErrnoError(fmt::format("open \"{}\"", rel));
      return ClearDir(dir.get(), rel, keep_upper);
    }
    if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return {};
    if (errno != EISDIR) return ErrnoError(fmt::format("remove \"{}\"", rel));
    {
      Fd dir(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dir.valid()) return ErrnoError(fmt::format("open \"{}\"", rel));
      BERTH_CHECK(ClearDir(dir.get(), rel, /*keep_upper=*/false));
    }
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return ErrnoError(fmt::format("remove directory \"{}\"", rel));
    }
    return {};
  }

  Status ClearDir(int dirfd, const std::string& rel, bool keep_upper) {
    Fd copy(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
    if (!copy.valid()) return ErrnoError("dup");
    DIR* dir = ::fdopendir(copy.get());
    if (!dir) return ErrnoError(fmt::format("read directory \"{}\"", rel));
    (void)copy.Release();  // closedir closes it
    std::vector<std::string> names;
    while (struct dirent* d = ::readdir(dir)) {
      std::string_view n = d->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(dir);
    for (const std::string& n : names) BERTH_CHECK(Remove(dirfd, n, JoinPath(rel, n), keep_upper));
    return {};
  }

  // --- directories ---

  // A directory descriptor (O_PATH) for `rel`, resolved inside the root;
  // borrowed from a small cache. -errno on failure.
  int Parent(const std::string& rel, bool create) {
    auto it = parents_.find(rel);
    if (it != parents_.end()) return it->second.get();
    int fd = create ? root_.OpenOrCreateDir(rel) : root_.OpenDir(rel);
    if (fd < 0) return fd;
    if (parents_.size() >= kMaxCachedParents) parents_.clear();
    return parents_.emplace(rel, Fd(fd)).first->second.get();
  }

  // Remembers a directory's times before this layer changes its entries.
  void NoteDirTimes(const std::string& rel, int fd) {
    if (dir_times_.contains(rel)) return;
    struct stat st;
    if (::fstat(fd, &st) == 0) dir_times_[rel] = Times{st.st_atim, st.st_mtim};
  }

  void RestoreDirTimes() {
    for (const auto& [rel, times] : dir_times_) {
      Fd path_fd(root_.OpenDir(rel));
      if (!path_fd.valid()) continue;  // removed later in the layer
      Fd dir(::openat(path_fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (dir.valid()) ::futimens(dir.get(), times.data());
    }
  }

  Status MakeDir(archive_entry* e, int pfd, const std::string& base, const std::string& clean) {
    struct stat st;
    bool exists = ::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !S_ISDIR(st.st_mode)) {
      BERTH_CHECK(Remove(pfd, base, clean, /*keep_upper=*/false));
      exists = false;
    }
    if (!exists && ::mkdirat(pfd, base.c_str(), 0700) != 0) return ErrnoError("mkdir");
    Fd dir(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) return ErrnoError("open directory");
    BERTH_CHECK(ApplyAttributes(dir.get(), e));
    dir_times_[clean] = EntryTimes(e);  // set once its contents are written
    return {};
  }

  // --- other entry types ---

  // Runs `create` (which returns 0 or -1 with errno); when the name is taken,
  // removes what is there (never following it) and tries once more.
  template <class F>
  Status CreateReplacing(int pfd, const std::string& base, std::string_view what, F&& create) {
    if (create() == 0) return {};
    if (errno != EEXIST) return ErrnoError(what);
    BERTH_CHECK(Remove(pfd, base, base, /*keep_upper=*/false));
    if (create() != 0) return ErrnoError(what);
    return {};
  }

  Status MakeFile(archive* a, archive_entry* e, int pfd, const std::string& base) {
    Fd fd;
    BERTH_CHECK(CreateReplacing(pfd, base, "create file", [&] {
      fd = Fd(
          ::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      return fd.valid() ? 0 : -1;
    }));
    int64_t end = 0;
    for (;;) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int r = archive_read_data_block(a, &block, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return ArchiveError(a, "read file data");
      const char* p = static_cast<const char*>(block);
      while (size > 0) {
        ssize_t n = ::pwrite(fd.get(), p, size, offset);
        if (n < 0) {
          if (errno == EINTR) continue;
          return ErrnoError("write");
        }
        p += n;
        size -= static_cast<size_t>(n);
        offset += n;
      }
      end = std::max<int64_t>(end, offset);
    }
    // A sparse file may end in a hole.
    if (archive_entry_size_is_set(e) && end < archive_entry_size(e) &&
        ::ftruncate(fd.get(), archive_entry_size(e)) != 0) {
      return ErrnoError("truncate");
    }
    BERTH_CHECK(ApplyAttributes(fd.get(), e));
    Times t = EntryTimes(e);
    if (::futimens(fd.get(), t.data()) != 0) return ErrnoError("set times");
    return {};
  }

  Status MakeSymlink(archive_entry* e, int pfd, const std::string& base) {
    const char* target = archive_entry_symlink(e);
    if (!target) return UnpackError("symlink without a target");
    // The target is stored as is: it is only ever resolved inside the rootfs.
    BERTH_CHECK(CreateReplacing(pfd, base, "create symlink",
                                [&] { return ::symlinkat(target, pfd, base.c_str()); }));
    return ApplyAttributesAt(e, pfd, base, /*chmod=*/false);
  }

  Status MakeDevice(archive_entry* e, int pfd, const std::string& base) {
    bool chr = archive_entry_filetype(e) == AE_IFCHR;
    std::string what = fmt::format("{} device {}:{}", chr ? "character" : "block",
                                   archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
    if (options_.devices == DevicePolicy::kRefuse) {
      return UnpackError(what + " refused (device nodes are not allowed in layers)");
    }
    if (options_.devices == DevicePolicy::kSkip || !is_root_) {
      Warn(what + " skipped");
      return {};
    }
    return MakeNode(e, pfd, base, chr ? S_IFCHR : S_IFBLK,
                    makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e)));
  }

  Status MakeNode(archive_entry* e, int pfd, const std::string& base, mode_t type, dev_t dev) {
    BERTH_CHECK(CreateReplacing(pfd, base, "create node",
                                [&] { return ::mknodat(pfd, base.c_str(), type | 0600, dev); }));
    return ApplyAttributesAt(e, pfd, base, /*chmod=*/true);
  }

  Status MakeHardLink(int pfd, const std::string& base, const std::string& clean,
                      const char* link) {
    auto target = CleanPath(link);
    if (!target) {
      return UnpackError(fmt::format("hard link target \"{}\": {}", link, target.error().message));
    }
    if (target->empty()) return UnpackError("hard link to the root directory");
    if (*target == clean) return {};  // a link to itself: already there
    auto [tparent, tbase] = SplitPath(*target);
    Fd tdir(root_.OpenDir(tparent));
    struct stat st;
    if (!tdir.valid() || ::fstatat(tdir.get(), tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return UnpackError(
          fmt::format("hard link target \"{}\" does not exist in the rootfs", *target));
    }
    if (S_ISDIR(st.st_mode)) {
      return UnpackError(fmt::format("hard link target \"{}\" is a directory", *target));
    }
    struct stat existing;
    if (::fstatat(pfd, base.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 &&
        existing.st_dev == st.st_dev && existing.st_ino == st.st_ino) {
      return {};
    }
    // Flags 0: a symlink target is linked itself, never followed.
    return CreateReplacing(pfd, base, "create hard link", [&] {
      return ::linkat(tdir.get(), tbase.c_str(), pfd, base.c_str(), 0);
    });
  }

  // --- attributes ---

  // Owner, mode and xattrs of an open file or directory (times are separate:
  // files right after their data, directories at the end of the layer).
  Status ApplyAttributes(int fd, archive_entry* e) {
    // chown first: it clears set-id bits and file capabilities.
    if (chown_ && ::fchown(fd, static_cast<uid_t>(archive_entry_uid(e)),
                           static_cast<gid_t>(archive_entry_gid(e))) != 0) {
      return ErrnoError("chown");
    }
    if (::fchmod(fd, archive_entry_perm(e) & 07777) != 0) return ErrnoError("chmod");
    return ApplyXattrs(fd, e);
  }

  // The same for entries that cannot be opened (symlinks, FIFOs, devices):
  // by name, never following a symlink.
  Status ApplyAttributesAt(archive_entry* e, int pfd, const std::string& base, bool chmod) {
    if (chown_ && ::fchownat(pfd, base.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                             static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoError("chown");
    }
    // Safe to follow: the node was just created by us and is not a symlink.
    if (chmod && ::fchmodat(pfd, base.c_str(), archive_entry_perm(e) & 07777, 0) != 0) {
      return ErrnoError("chmod");
    }
    Times t = EntryTimes(e);
    if (::utimensat(pfd, base.c_str(), t.data(), AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoError("set times");
    }
    return {};
  }

  static bool XattrAllowed(std::string_view name) {
    return name.starts_with("user.") || name == "security.capability";
  }

  Status ApplyXattrs(int fd, archive_entry* e) {
    if (archive_entry_xattr_reset(e) == 0) return {};
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      if (!XattrAllowed(name)) {
        WarnXattrOnce(name, "not applied (not allowed from images)");
        continue;
      }
      if (::fsetxattr(fd, name, value, size, 0) != 0) {
        if (errno == ENOTSUP || errno == EPERM) {
          WarnXattrOnce(name, fmt::format("not applied: {}", std::strerror(errno)));
          continue;
        }
        return ErrnoError(fmt::format("set xattr {}", name));
      }
    }
    return {};
  }

  void WarnXattrOnce(std::string_view name, const std::string& why) {
    if (warned_xattrs_.emplace(name).second) Warn(fmt::format("xattr {} {}", name, why));
  }

  const RootDir& root_;
  Source& tar_;
  const UnpackOptions& options_;
  const bool is_root_;
  const bool chown_;
  std::vector<char> buffer_;
  std::optional<Error> read_error_;
  std::string name_;  // the current entry, as the archive spells it
  int64_t entries_ = 0;

  std::unordered_set<std::string> upper_;        // paths this layer wrote, and their ancestors
  std::map<std::string, Times> dir_times_;       // directory times to set at the end
  std::unordered_map<std::string, Fd> parents_;  // resolved parent directories
  bool parents_stale_ = false;                   // something was removed: re-resolve
  std::set<std::string, std::less<>> warned_xattrs_;
};

}  // namespace

Status ExtractTar(const RootDir& root, Source& tar, const UnpackOptions& options) {
  Extractor extractor(root, tar, options);
  return extractor.Run();
}

}  // namespace berth::agent::unpack
