#include "agent/unpack/test_layer.h"

#include <archive.h>
#include <gtest/gtest.h>

#include <fstream>

namespace berth::agent::unpack::testing {

Entry File(std::string name, std::string data, int perm) {
  Entry e;
  e.name = std::move(name);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}

Entry Dir(std::string name, int perm) {
  Entry e;
  e.name = std::move(name);
  e.type = AE_IFDIR;
  e.perm = perm;
  return e;
}

Entry Symlink(std::string name, std::string target) {
  Entry e;
  e.name = std::move(name);
  e.type = AE_IFLNK;
  e.perm = 0777;
  e.symlink = std::move(target);
  return e;
}

Entry Hardlink(std::string name, std::string target) {
  Entry e;
  e.name = std::move(name);
  e.hardlink = std::move(target);
  return e;
}

Entry Device(std::string name, unsigned type, unsigned major, unsigned minor) {
  Entry e;
  e.name = std::move(name);
  e.type = type;
  e.perm = 0666;
  e.dev_major = major;
  e.dev_minor = minor;
  return e;
}

namespace {

la_ssize_t Append(archive*, void* out, const void* data, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

void WriteEntries(archive* a, const std::vector<Entry>& entries, Format format, std::string* out) {
  ASSERT_EQ(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
  if (format == Format::kGzip) {
    ASSERT_EQ(archive_write_add_filter_gzip(a), ARCHIVE_OK);
  }
  if (format == Format::kZstd) {
    ASSERT_EQ(archive_write_add_filter_zstd(a), ARCHIVE_OK);
  }
  // Whole blocks as they come: no padding of the compressed stream.
  ASSERT_EQ(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open2(a, out, nullptr, &Append, nullptr, nullptr), ARCHIVE_OK)
      << archive_error_string(a);
  for (const Entry& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.name.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, e.perm);
    archive_entry_set_mtime(ae, e.mtime, 0);
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    if (!e.symlink.empty()) archive_entry_set_symlink(ae, e.symlink.c_str());
    if (!e.hardlink.empty()) archive_entry_set_hardlink(ae, e.hardlink.c_str());
    if (e.type == AE_IFCHR || e.type == AE_IFBLK) {
      archive_entry_set_rdevmajor(ae, e.dev_major);
      archive_entry_set_rdevminor(ae, e.dev_minor);
    }
    for (const auto& [k, v] : e.xattrs) {
      archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
    }
    archive_entry_set_size(ae, e.type == AE_IFREG && e.hardlink.empty() ? e.data.size() : 0);
    ASSERT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
    if (!e.data.empty()) {
      ASSERT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
                static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(ae);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
}

}  // namespace

std::string LayerBytes(const std::vector<Entry>& entries, Format format) {
  std::string out;
  archive* a = archive_write_new();
  WriteEntries(a, entries, format, &out);
  archive_write_free(a);
  return out;
}

void WriteLayer(const std::string& path, const std::vector<Entry>& entries, Format format) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << LayerBytes(entries, format);
}

}  // namespace berth::agent::unpack::testing
