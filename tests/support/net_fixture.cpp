#include "support/net_fixture.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

namespace probe::test {

namespace {

using Clock = std::chrono::steady_clock;

// Key and certificate generation happen before the line is printed; under a sanitizer build on a
// loaded machine that can take a while, hence more than mock_dns gets.
constexpr auto k_start_timeout = std::chrono::seconds(10);
constexpr auto k_stop_timeout = std::chrono::seconds(2);
constexpr auto k_stop_poll = std::chrono::milliseconds(5);
// The line holds about fifteen "name":port pairs; anything this long is not it.
constexpr std::size_t k_max_line = 64 * 1024;
constexpr std::size_t k_read_chunk = 4096;
constexpr int k_exit_exec_failed = 127;
constexpr int k_first_unused_fd = 3;
// Only for kernels without close_range (before 5.9); everything the tests open is far below this.
constexpr int k_fallback_fd_limit = 4096;

void close_fd(int fd) {
  if (fd >= 0) {
    ::close(fd);
  }
}

// Puts `fd` at `target` in the child and clears its close-on-exec flag.
bool move_fd(int fd, int target) {
  if (fd == target) {
    return ::fcntl(fd, F_SETFD, 0) == 0;
  }
  return ::dup2(fd, target) == target;
}

// The child side of fork. The tests are multi-threaded, so until exec only async-signal-safe
// calls are allowed here: no allocation, no locks, no stdio.
[[noreturn]] void exec_fixture(int stdout_fd, pid_t parent, char* const argv[]) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  // The parent may have died before prctl took effect, and then no signal would ever come.
  if (::getppid() != parent || !move_fd(stdout_fd, STDOUT_FILENO)) {
    ::_exit(k_exit_exec_failed);
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || !move_fd(null_fd, STDIN_FILENO)) {
    ::_exit(k_exit_exec_failed);
  }
  // Sockets and files the test process opened without O_CLOEXEC would otherwise leak into the
  // fixture and stay open, e.g. keeping a test's peer from seeing a close.
  if (::close_range(k_first_unused_fd, ~0U, 0) != 0) {
    for (int fd = k_first_unused_fd; fd < k_fallback_fd_limit; ++fd) {
      ::close(fd);
    }
  }
  // The signal mask and ignored dispositions survive exec; the fixture expects the defaults.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  for (const int number : {SIGTERM, SIGINT, SIGPIPE}) {
    ::sigaction(number, &defaults, nullptr);
  }
  ::execv(argv[0], argv);
  ::_exit(k_exit_exec_failed);
}

// Sends `first_signal`, then SIGKILL if the child is still there after the grace time. Returns
// the wait status, or -1 when the child was already reaped elsewhere.
int stop_fixture(pid_t pid, int first_signal) {
  int status = 0;
  ::kill(pid, first_signal);
  const auto deadline = Clock::now() + k_stop_timeout;
  while (first_signal != SIGKILL && Clock::now() < deadline) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      return status;
    }
    if (done < 0 && errno != EINTR) {
      return -1;
    }
    std::this_thread::sleep_for(k_stop_poll);
  }
  ::kill(pid, SIGKILL);
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, 0);
    if (done == pid) {
      return status;
    }
    if (errno != EINTR) {
      return -1;
    }
  }
}

std::string read_line(int fd) {
  const auto deadline = Clock::now() + k_start_timeout;
  std::string text;
  for (;;) {
    const auto newline = text.find('\n');
    if (newline != std::string::npos) {
      return text.substr(0, newline);
    }
    if (text.size() > k_max_line) {
      throw std::runtime_error("net_fixture printed a line too long to be its ports");
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      throw std::runtime_error("net_fixture printed no ports within 10 s");
    }
    pollfd ready{fd, POLLIN, 0};
    const int rc = ::poll(&ready, 1, static_cast<int>(left));
    if (rc < 0 && errno != EINTR) {
      throw std::runtime_error(std::string("poll on net_fixture's stdout: ") + std::strerror(errno));
    }
    if (rc <= 0) {
      continue;
    }
    std::array<char, k_read_chunk> chunk;
    const auto size = ::read(fd, chunk.data(), chunk.size());
    if (size == 0) {
      throw std::runtime_error("net_fixture (" NET_FIXTURE_BINARY ") exited before printing its ports");
    }
    if (size < 0 && errno != EINTR && errno != EAGAIN) {
      throw std::runtime_error(std::string("reading net_fixture's stdout: ") + std::strerror(errno));
    }
    if (size > 0) {
      text.append(chunk.data(), static_cast<std::size_t>(size));
    }
  }
}

std::map<std::string, std::uint16_t> parse_ports(const std::string& line) {
  const auto fail = [&line]() -> std::runtime_error {
    return std::runtime_error("net_fixture printed \"" + line + "\" instead of a JSON object of ports");
  };
  const auto json = nlohmann::json::parse(line, nullptr, false);
  if (!json.is_object() || json.empty()) {
    throw fail();
  }
  std::map<std::string, std::uint16_t> ports;
  for (const auto& [name, value] : json.items()) {
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() == 0 || value.get<std::uint64_t>() > 65535) {
      throw fail();
    }
    ports.emplace(name, static_cast<std::uint16_t>(value.get<std::uint64_t>()));
  }
  return ports;
}

}  // namespace

NetFixture::NetFixture() {
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe for net_fixture: ") + std::strerror(errno));
  }
  // Built before fork because the child must not allocate.
  char binary[] = NET_FIXTURE_BINARY;
  std::string dir_flag = "--dir";
  std::string dir = m_dir.path().string();
  char* const argv[] = {binary, dir_flag.data(), dir.data(), nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    close_fd(fds[0]);
    close_fd(fds[1]);
    throw std::runtime_error(std::string("fork for net_fixture: ") + std::strerror(error));
  }
  if (pid == 0) {
    exec_fixture(fds[1], parent, argv);
  }
  close_fd(fds[1]);
  // A throwing constructor gets no destructor call, so the child is stopped here.
  try {
    m_ports = parse_ports(read_line(fds[0]));
  } catch (...) {
    close_fd(fds[0]);
    stop_fixture(pid, SIGKILL);
    throw;
  }
  // Only the one line is ever written.
  close_fd(fds[0]);
  m_pid = pid;
}

NetFixture::~NetFixture() {
  const int status = stop_fixture(m_pid, SIGTERM);
  // A crash would otherwise only show up as a puzzling failure in whichever test was running.
  const bool clean = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!clean) {
    std::fprintf(stderr, "warning: net_fixture in %s ended with wait status %d\n", m_dir.path().c_str(), status);
  }
}

std::uint16_t NetFixture::port(const std::string& name) const {
  const auto it = m_ports.find(name);
  if (it == m_ports.end()) {
    throw std::out_of_range("net_fixture has no behaviour called \"" + name + "\"");
  }
  return it->second;
}

std::string NetFixture::ca_file() const { return (m_dir.path() / "ca.pem").string(); }

}  // namespace probe::test
