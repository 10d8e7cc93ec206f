#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/target.hpp"

namespace probe {

// A target URL: "https://host[:port][/path][?query]", also http, tls, tcp and stun schemes.
struct ParsedUrl {
  Kind kind = Kind::https;
  std::string host;  // lowercase, IPv6 without brackets
  std::optional<std::uint16_t> port;
  std::string path = "/";  // path and query; the fragment is dropped
};

// Parses a URL into its parts, or explains in `problem` why it cannot be a target.
std::optional<ParsedUrl> parse_target_url(std::string_view url, std::string* problem);

}  // namespace probe
