#include "path/path.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <charconv>
#include <cstring>
#include <fstream>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/input_file.hpp"
#include "targets/host.hpp"

namespace probe {

std::string_view to_string(PathKind kind) {
  switch (kind) {
  case PathKind::direct: return "direct";
  case PathKind::socks5: return "socks5";
  case PathKind::socks5h: return "socks5h";
  case PathKind::http_proxy: return "http_proxy";
  case PathKind::interface: return "interface";
  }
  return "direct";
}

std::string PathSpec::display() const {
  if (kind == PathKind::direct) {
    return "direct";
  }
  if (kind == PathKind::interface) {
    return "iface:" + interface;
  }
  const std::string scheme = kind == PathKind::http_proxy ? "http" : std::string(to_string(kind));
  const std::string host = proxy_address.find(':') != std::string::npos ? "[" + proxy_address + "]" : proxy_address;
  return scheme + "://" + host + ":" + std::to_string(proxy_port);
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || end != text.data() + i + 3) {
      return std::nullopt;
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

namespace {

bool valid_interface_name(std::string_view name) {
  // Linux: at most 15 bytes, no '/', no whitespace, not "." or "..".
  if (name.empty() || name.size() > 15 || name == "." || name == "..") {
    return false;
  }
  for (const char c : name) {
    if (c == '/' || c == ':' || static_cast<unsigned char>(c) <= ' ') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<PathSpec> parse_control(std::string_view text, std::string* problem) {
  PathSpec spec;
  if (text.rfind("iface:", 0) == 0) {
    spec.kind = PathKind::interface;
    spec.interface = std::string(text.substr(6));
    if (!valid_interface_name(spec.interface)) {
      *problem = "'" + spec.interface + "' is not an interface name";
      return std::nullopt;
    }
    return spec;
  }
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    *problem = "expected socks5h://HOST:PORT, socks5://HOST:PORT, http://HOST:PORT or iface:NAME";
    return std::nullopt;
  }
  const std::string_view scheme = text.substr(0, scheme_end);
  if (scheme == "socks5h") {
    spec.kind = PathKind::socks5h;
  } else if (scheme == "socks5") {
    spec.kind = PathKind::socks5;
  } else if (scheme == "http") {
    spec.kind = PathKind::http_proxy;
  } else {
    *problem = "unsupported proxy scheme '" + std::string(scheme) + "' (socks5h, socks5, http)";
    return std::nullopt;
  }
  std::string_view rest = text.substr(scheme_end + 3);
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = colon == std::string_view::npos ? std::optional<std::string>("")
                                                    : percent_decode(userinfo.substr(colon + 1));
    if (!user || !password) {
      *problem = "malformed %-escape in the credentials";  // never repeat them
      return std::nullopt;
    }
    spec.username = std::move(*user);
    spec.password = std::move(*password);
  }
  const std::string shown = spec.has_credentials() ? std::string(scheme) + "://***@" + std::string(rest)
                                                   : std::string(text);
  std::string_view host;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      *problem = "'" + shown + "': expected [IPV6]:PORT";
      return std::nullopt;
    }
    host = rest.substr(1, close - 1);
    port_text = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      *problem = "'" + shown + "': the proxy's port is missing";
      return std::nullopt;
    }
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
  }
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  if (!is_ip_literal(host)) {
    *problem = "'" + shown + "': give the proxy by IP address (its name would be resolved on the direct path)";
    return std::nullopt;
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
      port > 65535) {
    *problem = "'" + shown + "': port '" + std::string(port_text) + "' is not a number from 1 to 65535";
    return std::nullopt;
  }
  spec.proxy_address = std::string(host);
  spec.proxy_port = static_cast<std::uint16_t>(port);
  return spec;
}

namespace {

// "USER:PASSWORD" -> the pair; the password may hold ':'.
bool split_credentials(const std::string& text, std::string& user, std::string& password) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0) {
    return false;
  }
  user = text.substr(0, colon);
  password = text.substr(colon + 1);
  return true;
}

}  // namespace

void apply_credentials(std::vector<PathSpec>& paths, const char* environment_value, const std::string& auth_file) {
  std::string user;
  std::string password;
  bool found = false;
  if (!auth_file.empty()) {
    struct stat info {};
    if (::stat(auth_file.c_str(), &info) != 0) {
      throw UserError(exit_code::k_no_input, auth_file + ": cannot read: " + std::strerror(errno));
    }
    if ((info.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(info.st_mode & 0777));
      throw UserError(exit_code::k_config,
                      auth_file + ": group or others may read it (mode " + mode + "): chmod 600 it");
    }
    const std::string text = read_input_file(auth_file, 64 * 1024, "credentials");
    std::string line = text.substr(0, text.find('\n'));
    if (text.empty()) {
      throw UserError(exit_code::k_no_input, auth_file + ": cannot read the first line");
    }
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (!split_credentials(line, user, password)) {
      throw UserError(exit_code::k_data_error, auth_file + ":1: expected USER:PASSWORD");
    }
    found = true;
  } else if (environment_value != nullptr && *environment_value != '\0') {
    if (!split_credentials(environment_value, user, password)) {
      throw UserError(exit_code::k_usage, "PROBE_CONTROL_AUTH: expected USER:PASSWORD");
    }
    found = true;
  }
  if (!found) {
    return;
  }
  for (PathSpec& path : paths) {
    if (path.is_proxy() && !path.has_credentials()) {
      path.username = user;
      path.password = password;
    }
  }
}

}  // namespace probe
