#include "support/ports.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace probe::test {

namespace {

// A port the kernel picks for a socket of `type` bound to 127.0.0.1:0, free again once returned.
std::uint16_t unused_port(int type, const char* kind) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  const int error = errno;
  if (fd >= 0) {
    ::close(fd);
  }
  if (!bound) {
    throw std::runtime_error(std::string("cannot bind a ") + kind + " socket on 127.0.0.1: " + std::strerror(error));
  }
  return ntohs(address.sin_port);
}

}  // namespace

std::uint16_t closed_udp_port() { return unused_port(SOCK_DGRAM, "UDP"); }

std::uint16_t free_tcp_port() { return unused_port(SOCK_STREAM, "TCP"); }

}  // namespace probe::test
