#include "path/egress.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "net/socket_address.hpp"
#include "net/stream_connect.hpp"

namespace probe {

namespace {

bool same_address(const sockaddr* a, const sockaddr_storage& b) {
  if (a == nullptr || a->sa_family != b.ss_family) {
    return false;
  }
  if (a->sa_family == AF_INET) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in*>(a)->sin_addr,
                       &reinterpret_cast<const sockaddr_in*>(&b)->sin_addr, sizeof(in_addr)) == 0;
  }
  if (a->sa_family == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(&b)->sin6_addr, sizeof(in6_addr)) == 0;
  }
  return false;
}

}  // namespace

std::optional<std::string> egress_interface(const std::string& address, const std::string& bind_device) {
  const auto target = socket_address(address, 9);
  if (!target) {
    return std::nullopt;
  }
  const int fd = ::socket(target->family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return std::nullopt;
  }
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  const bool routed = (bind_device.empty() || bind_to_device(fd, bind_device) == 0) &&
                      ::connect(fd, target->get(), target->length) == 0 &&
                      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0;
  ::close(fd);
  if (!routed) {
    return std::nullopt;
  }
  if (!bind_device.empty()) {
    return bind_device;
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return std::nullopt;
  }
  std::optional<std::string> name;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (same_address(entry->ifa_addr, local)) {
      name = entry->ifa_name;
      break;
    }
  }
  ::freeifaddrs(list);
  return name;
}

std::optional<std::string> default_egress() {
  if (auto name = egress_interface("192.0.2.1")) {
    return name;
  }
  return egress_interface("2001:db8::1");
}

bool interface_exists(const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; }

bool is_tunnel_device(const std::string& name) {
  // The link type from the kernel (SIOCGIFHWADDR), not from /sys/class/net, which shows the
  // network namespace sysfs was mounted in rather than ours.
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return false;
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  ifreq request{};
  std::memcpy(request.ifr_name, name.c_str(), name.size());
  const bool known = ::ioctl(fd, SIOCGIFHWADDR, &request) == 0;
  ::close(fd);
  return known && request.ifr_hwaddr.sa_family == ARPHRD_NONE;  // tun and WireGuard
}

}  // namespace probe
