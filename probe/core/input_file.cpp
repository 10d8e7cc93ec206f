#include "core/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "core/error.hpp"
#include "core/exit_codes.hpp"

namespace probe {

namespace {

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a folder";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISCHR(mode) || S_ISBLK(mode)) {
    return "a device";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "not a regular file";
}

// "r.json: 300 MiB, more than the 128 MiB a report may be"; without a size when it is not known.
std::string too_large(const std::filesystem::path& path, std::optional<std::uintmax_t> size, std::uintmax_t limit,
                      std::string_view what) {
  // Bytes exactly where the rounded size would read as the limit itself.
  const std::string shown = !size ? std::string()
                            : size_text(*size) == size_text(limit) ? std::to_string(*size) + " bytes, "
                                                                      : size_text(*size) + ", ";
  return path.string() + ": " + shown + "more than the " +
         size_text(limit) + " a " + std::string(what) + " file may hold";
}

// Refuses what is not a regular file or is larger than `limit`.
void check_status(const std::filesystem::path& path, const struct stat& info, std::uintmax_t limit,
                  std::string_view what) {
  if (!S_ISREG(info.st_mode)) {
    throw UserError(exit_code::k_data_error, path.string() + ": " + file_kind(info.st_mode) + ", not a " +
                                                 std::string(what) + " file (only regular files are read)");
  }
  if (static_cast<std::uintmax_t>(info.st_size) > limit) {
    throw UserError(exit_code::k_data_error,
                    too_large(path, static_cast<std::uintmax_t>(info.st_size), limit, what));
  }
}

class Fd {
public:
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return m_fd; }

private:
  int m_fd;
};

}  // namespace

std::string size_text(std::uintmax_t bytes) {
  if (bytes >= k_mib && bytes % k_mib == 0) {
    return std::to_string(bytes / k_mib) + " MiB";
  }
  if (bytes >= 10 * k_mib) {
    return std::to_string(bytes / k_mib) + " MiB";
  }
  if (bytes >= 1024 && bytes % 1024 == 0) {
    return std::to_string(bytes / 1024) + " KiB";
  }
  if (bytes >= 10 * 1024) {
    return std::to_string(bytes / 1024) + " KiB";
  }
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

void check_input_file(const std::filesystem::path& path, std::uintmax_t limit, std::string_view what) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw UserError(exit_code::k_no_input, path.string() + ": cannot read: " + std::strerror(errno));
  }
  check_status(path, info, limit, what);
}

std::string read_input_file(const std::filesystem::path& path, std::uintmax_t limit, std::string_view what) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. It changes nothing
  // for a regular file, the only kind read.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    throw UserError(exit_code::k_no_input, path.string() + ": cannot read: " + std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    throw UserError(exit_code::k_no_input, path.string() + ": cannot read: " + std::strerror(errno));
  }
  check_status(path, info, limit, what);
  std::string text;
  text.reserve(static_cast<std::size_t>(info.st_size));
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw UserError(exit_code::k_no_input, path.string() + ": read failed: " + std::strerror(errno));
    }
    if (n == 0) {
      return text;
    }
    if (text.size() + static_cast<std::size_t>(n) > limit) {  // it grew while being read
      throw UserError(exit_code::k_data_error, too_large(path, std::nullopt, limit, what));
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace probe
