#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>

namespace probe {

// An IPv4 or IPv6 address and port, ready for connect().
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};

// nullopt when `ip` is not an IPv4 or IPv6 literal.
std::optional<SocketAddress> socket_address(const std::string& ip, std::uint16_t port);

}  // namespace probe
