#include "steps/stun.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <algorithm>

#include "net/classify.hpp"
#include "net/socket_address.hpp"
#include "net/stream_connect.hpp"
#include "steps/socket_step.hpp"

namespace probe {

namespace {

constexpr std::uint32_t k_magic_cookie = 0x2112A442;
constexpr Millis k_retransmit{500};

struct StunAttempt : SocketStep<StepTiming>, std::enable_shared_from_this<StunAttempt> {
  std::array<unsigned char, 20> request{};

  using SocketStep::SocketStep;

  bool send_request() {
    if (::send(fd, request.data(), request.size(), 0) < 0) {
      finish(failure_from_errno(errno));
      return false;
    }
    return true;
  }

  // Sends the request again every 500 ms until the deadline timer ends the attempt.
  void arm_resend() {
    resend = loop.add_timer(k_retransmit, [self = shared_from_this()]() {
      self->resend.reset();
      if (self->send_request()) {
        self->arm_resend();
      }
    });
  }

  bool is_our_response(const unsigned char* data, std::size_t length) const {
    if (length < 20) {
      return false;
    }
    const unsigned type = (data[0] << 8) | data[1];
    return type == 0x0101 && std::memcmp(data + 4, request.data() + 4, 16) == 0;  // cookie + transaction id
  }
};

}  // namespace

std::optional<std::string> stun_mapped_address(const unsigned char* data, std::size_t length) {
  if (length < 20) {
    return std::nullopt;
  }
  const std::size_t declared = static_cast<std::size_t>((data[2] << 8) | data[3]);
  const std::size_t end = std::min(length, 20 + declared);
  std::optional<std::string> plain;
  for (std::size_t at = 20; at + 4 <= end;) {
    const unsigned type = static_cast<unsigned>((data[at] << 8) | data[at + 1]);
    const std::size_t size = static_cast<std::size_t>((data[at + 2] << 8) | data[at + 3]);
    const std::size_t value = at + 4;
    if (value + size > end) {
      break;
    }
    // MAPPED-ADDRESS (0x0001) or XOR-MAPPED-ADDRESS (0x0020): reserved, family, port, address.
    if ((type == 0x0001 || type == 0x0020) && size >= 8) {
      const unsigned family = data[value + 1];
      const std::size_t bytes = family == 0x01 ? 4 : family == 0x02 ? 16 : 0;
      if (bytes != 0 && size >= 4 + bytes) {
        unsigned char address[16];
        for (std::size_t i = 0; i < bytes; ++i) {
          // XOR with the magic cookie, then (IPv6) the transaction id: data[4..20) holds both.
          address[i] = type == 0x0020 ? static_cast<unsigned char>(data[value + 4 + i] ^ data[4 + i])
                                      : data[value + 4 + i];
        }
        char text[INET6_ADDRSTRLEN] = {};
        if (inet_ntop(bytes == 4 ? AF_INET : AF_INET6, address, text, sizeof text) != nullptr) {
          if (type == 0x0020) {
            return std::string(text);
          }
          plain = text;
        }
      }
    }
    at = value + ((size + 3) & ~std::size_t{3});  // attributes are padded to 4 bytes
  }
  return plain;
}

void start_stun(EventLoop& loop, const std::string& address, std::uint16_t port, Millis timeout,
                MonoTime run_start, std::function<void(StepTiming)> done, const std::string& bind_device,
                std::function<void(const std::string&)> on_mapped) {
  auto attempt = std::make_shared<StunAttempt>(loop, run_start, std::move(done));
  const auto fail_soon = [&attempt](FailureInfo failure) { StunAttempt::finish_soon(attempt, failure); };

  const auto target = socket_address(address, port);
  if (!target) {
    fail_soon(FailureInfo{Failure::unknown_failure, "not an IP address: " + address});
    return;
  }

  // Binding Request: type 0x0001, no attributes, the magic cookie, a random transaction id.
  auto& request = attempt->request;
  request[0] = 0x00;
  request[1] = 0x01;
  request[4] = 0x21;
  request[5] = 0x12;
  request[6] = 0xA4;
  request[7] = 0x42;
  if (getrandom(request.data() + 8, 12, 0) != 12) {
    fail_soon(FailureInfo{Failure::unknown_failure, "no random bytes for the transaction id"});
    return;
  }
  static_assert(k_magic_cookie == 0x2112A442);

  attempt->fd = ::socket(target->family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (attempt->fd < 0) {
    fail_soon(failure_from_errno(errno));
    return;
  }
  if (!bind_device.empty()) {
    if (const int error = bind_to_device(attempt->fd, bind_device); error != 0) {
      fail_soon(failure_from_errno(error));
      return;
    }
  }
  // Connected, so that ICMP errors (port unreachable, ...) come back to this socket.
  if (::connect(attempt->fd, target->get(), target->length) != 0) {
    fail_soon(failure_from_errno(errno));
    return;
  }
  if (::send(attempt->fd, request.data(), request.size(), 0) < 0) {
    fail_soon(failure_from_errno(errno));
    return;
  }
  attempt->arm_resend();
  attempt->deadline = loop.add_timer(timeout, [attempt]() {
    attempt->deadline.reset();
    attempt->finish(FailureInfo{Failure::generic_timeout_error, ""});
  });
  loop.watch(attempt->fd, EventLoop::k_readable, [attempt, on_mapped](int fd, std::uint32_t) {
    unsigned char buffer[1500];
    while (true) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return;
        }
        attempt->finish(failure_from_errno(errno));
        return;
      }
      if (attempt->is_our_response(buffer, static_cast<std::size_t>(n))) {
        if (on_mapped) {
          if (const auto mapped = stun_mapped_address(buffer, static_cast<std::size_t>(n))) {
            on_mapped(*mapped);
          }
        }
        attempt->finish(std::nullopt);
        return;
      }
    }
  });
}

}  // namespace probe
