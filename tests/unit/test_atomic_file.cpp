#include <catch2/catch.hpp>

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>

#include "core/error.hpp"
#include "core/atomic_file.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

using namespace probe;
using probe::test::read_file;
using probe::test::TempDir;

namespace {

// Runs `body` in a child process (so limits and mounts stay there) and returns its exit code.
int in_child(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    int code = 100;
    try {
      code = body();
    } catch (...) {
      code = 101;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int write_code(const std::filesystem::path& path, const std::string& content) {
  try {
    write_file_atomically(path, content);
  } catch (const UserError& error) {
    return error.exit_code();
  }
  return 0;
}

std::size_t entries_in(const std::filesystem::path& folder) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder)) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("atomic write replaces the file whole, with mode 0600", "[atomic]") {
  TempDir dir;
  const auto path = dir.path() / "r.json";
  write_file_atomically(path, "old");
  write_file_atomically(path, "new content");
  CHECK(read_file(path) == "new content");
  struct stat info {};
  REQUIRE(stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  CHECK(entries_in(dir.path()) == 1);
}

TEST_CASE("a write that fails leaves the old file intact and no temporary file", "[atomic]") {
  TempDir dir;
  const auto path = dir.path() / "r.json";
  write_file_atomically(path, "old report");
  // A file-size limit makes write() fail with EFBIG part-way, as a full disk does with ENOSPC.
  const int code = in_child([&]() {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &limit);
    return write_code(path, std::string(100000, 'x'));
  });
  CHECK(code == 74);
  CHECK(read_file(path) == "old report");
  CHECK(entries_in(dir.path()) == 1);
}

TEST_CASE("a full disk leaves the old file intact and no temporary file", "[atomic][root]") {
  if (geteuid() != 0) {
    PROBE_SKIP("mounting a small tmpfs needs root");
  }
  TempDir dir;
  const auto path = dir.path() / "r.json";
  // In a private mount namespace, a 64 KiB tmpfs over the folder: a real ENOSPC.
  const int code = in_child([&]() {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=64k") != 0) {
      return 90;
    }
    write_file_atomically(path, "old report");
    const int first = write_code(path, std::string(1 << 20, 'x'));
    if (read_file(path) != "old report") {
      return 91;
    }
    if (entries_in(dir.path()) != 1) {
      return 92;
    }
    return first;
  });
  if (code == 90) {
    PROBE_SKIP("cannot mount tmpfs here");
  }
  CHECK(code == 74);
}

TEST_CASE("an output folder that cannot be used gives exit 73", "[atomic]") {
  TempDir dir;
  CHECK(write_code(dir.path() / "missing" / "r.json", "x") == 73);
  const auto file = dir.write("plain", "x");
  try {
    ensure_folder(file / "sub");
    FAIL("no error");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 73);
  }
  try {
    ensure_folder(file);
    FAIL("no error");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 73);
    CHECK(std::string(error.what()) == file.string() + ": exists and is not a folder");
  }
  ensure_folder(dir.path() / "a" / "b");
  CHECK(std::filesystem::is_directory(dir.path() / "a" / "b"));
}
