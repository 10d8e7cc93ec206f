#include "targets/host.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace probe {

bool is_ip_literal(std::string_view host) {
  // inet_pton reads up to the first NUL: "192.0.2.1\0x" would pass as an address.
  if (host.find('\0') != std::string_view::npos) {
    return false;
  }
  const std::string text(host);
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 || inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

std::optional<std::string> host_problem(std::string_view host) {
  if (host.empty()) {
    return "empty host";
  }
  if (is_ip_literal(host)) {
    return std::nullopt;
  }
  if (host.size() > 253) {
    return "host name longer than 253 characters";
  }
  if (host.back() == '.') {
    return "host name ends with a dot (write it without the trailing dot)";
  }
  std::size_t start = 0;
  std::string_view last_label;
  while (start <= host.size()) {
    const std::size_t dot = std::min(host.find('.', start), host.size());
    const std::string_view label = host.substr(start, dot - start);
    if (label.empty()) {
      return "empty label in host name";
    }
    if (label.size() > 63) {
      return "label '" + std::string(label) + "' longer than 63 characters";
    }
    for (char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
      if (!ok) {
        return "character '" + std::string(1, c) + "' not allowed in a host name";
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return "label '" + std::string(label) + "' starts or ends with '-'";
    }
    last_label = label;
    start = dot + 1;
  }
  if (std::all_of(last_label.begin(), last_label.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "not a valid IP address, and a host name cannot end in an all-numeric label";
  }
  return std::nullopt;
}

}  // namespace probe
