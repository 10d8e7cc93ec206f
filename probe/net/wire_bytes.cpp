#include "net/wire_bytes.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace probe {

std::optional<WireBytes> wire_bytes(int fd) {
  if (fd < 0) {
    return std::nullopt;
  }
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) {
    return std::nullopt;
  }
  // An older kernel fills less of the structure and says how much.
  const std::size_t needed = offsetof(tcp_info, tcpi_bytes_sent) + sizeof info.tcpi_bytes_sent;
  if (length < needed) {
    return std::nullopt;
  }
  return WireBytes{info.tcpi_bytes_received, info.tcpi_bytes_sent, info.tcpi_last_data_recv};
}

}  // namespace probe
