#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/exit_codes.hpp"

namespace probe {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(int code, const fs::path& path, const std::string& what, int error) {
  throw UserError(code, path.string() + ": " + what + ": " + std::strerror(error));
}

// Closes a descriptor and removes a temporary file unless released: whatever path an error
// takes, nothing is left behind.
class TempFile {
public:
  TempFile(int fd, std::string path) : m_fd(fd), m_path(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    if (!m_path.empty()) {
      ::unlink(m_path.c_str());
    }
  }
  int fd() const { return m_fd; }
  const std::string& path() const { return m_path; }
  // Closes the descriptor, reporting close's own error (NFS reports write errors there).
  int close() {
    const int rc = ::close(m_fd);
    m_fd = -1;
    return rc;
  }
  void keep() { m_path.clear(); }

private:
  int m_fd;
  std::string m_path;
};

}  // namespace

void ensure_folder(const fs::path& folder) {
  std::error_code ec;
  if (fs::is_directory(folder, ec)) {
    return;
  }
  if (fs::exists(folder, ec)) {
    throw UserError(exit_code::k_cant_create, folder.string() + ": exists and is not a folder");
  }
  fs::create_directories(folder, ec);
  if (ec) {
    throw UserError(exit_code::k_cant_create, folder.string() + ": cannot create folder: " + ec.message());
  }
  fs::permissions(folder, fs::perms::owner_all, fs::perm_options::replace, ec);
}

void write_file_atomically(const fs::path& path, std::string_view content, unsigned mode) {
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string pattern = (folder / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    fail(exit_code::k_cant_create, path, "cannot create a file in " + folder.string(), errno);
  }
  TempFile temp(fd, name.data());
  if (::fchmod(temp.fd(), static_cast<mode_t>(mode)) != 0) {
    fail(exit_code::k_cant_create, path, "cannot set permissions", errno);
  }
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(temp.fd(), content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(exit_code::k_io_error, path, "write failed", errno);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(temp.fd()) != 0) {
    fail(exit_code::k_io_error, path, "fsync failed", errno);
  }
  if (temp.close() != 0) {
    fail(exit_code::k_io_error, path, "close failed", errno);
  }
  if (::rename(temp.path().c_str(), path.c_str()) != 0) {
    fail(exit_code::k_io_error, path, "rename failed", errno);
  }
  temp.keep();
  const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    fail(exit_code::k_io_error, folder, "cannot open folder to sync it", errno);
  }
  const int sync_rc = ::fsync(dir_fd);
  const int sync_errno = errno;
  ::close(dir_fd);
  if (sync_rc != 0) {
    fail(exit_code::k_io_error, folder, "fsync of folder failed", sync_errno);
  }
}

}  // namespace probe
