#include "targets/url.hpp"

#include <charconv>

#include "targets/host.hpp"

namespace probe {

namespace {
std::optional<ParsedUrl> reject(std::string* problem, std::string text) {
  *problem = std::move(text);
  return std::nullopt;
}
}  // namespace

std::optional<ParsedUrl> parse_target_url(std::string_view url, std::string* problem) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return reject(problem, "not a URL (expected scheme://host, e.g. https://example.org/)");
  }
  const std::string scheme = lowercase(url.substr(0, scheme_end));
  const auto kind = kind_from_string(scheme);
  if (!kind || *kind == Kind::dns) {
    return reject(problem, "unsupported scheme '" + scheme + "' (use http, https, tls, tcp or stun)");
  }
  ParsedUrl out;
  out.kind = *kind;
  std::string_view rest = url.substr(scheme_end + 3);
  const auto fragment = rest.find('#');
  if (fragment != std::string_view::npos) {
    rest = rest.substr(0, fragment);
  }
  const auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  if (path_start != std::string_view::npos) {
    out.path = std::string(rest.substr(path_start));
    if (out.path.front() == '?') {
      out.path.insert(out.path.begin(), '/');
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return reject(problem, "user names and passwords are not allowed in target URLs");
  }
  std::string_view host = authority;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return reject(problem, "unclosed '[' in IPv6 address");
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return reject(problem, "unexpected text after ']'");
      }
      port_text = after.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      // "2001:db8::1:2" could be an address or an address and a port: RFC 3986 wants brackets.
      return reject(problem, "an IPv6 address needs brackets: [ADDRESS] or [ADDRESS]:PORT");
    }
    if (port_text.empty()) {
      return reject(problem, "empty port after ':'");
    }
  }
  out.host = lowercase(host);
  if (const auto bad = host_problem(out.host)) {
    return reject(problem, *bad);
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value < 1 || value > 65535) {
      return reject(problem, "port '" + std::string(port_text) + "' is not a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(value);
  } else {
    out.port = default_port(out.kind);
    if (!out.port) {
      return reject(problem, "a " + scheme + ":// URL needs a port");
    }
  }
  if ((out.kind != Kind::http && out.kind != Kind::https) && out.path != "/") {
    return reject(problem, "a " + scheme + ":// URL cannot have a path");
  }
  // curl refuses such a URL, so the target could never be measured (a target list says the same).
  for (char c : out.path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
      return reject(problem, "spaces and control characters are not allowed in the path (percent-encode them)");
    }
  }
  return out;
}

}  // namespace probe
