#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace probe {

// How a path carries the measurements. The direct path is the network under test; a control
// path is assumed to bypass its censor, and comparing the two is what tells blocking from an
// outage.
enum class PathKind { direct, socks5, socks5h, http_proxy, interface };

std::string_view to_string(PathKind kind);

struct PathSpec {
  std::string name;  // "direct", "control", "control-2", ...
  PathKind kind = PathKind::direct;
  std::string proxy_address;  // IP literal of the proxy (socks5, socks5h, http_proxy)
  std::uint16_t proxy_port = 0;
  std::string interface;  // interface paths: the device every socket is bound to
  // Proxy credentials. They leave the process only towards the proxy: never into a report, a
  // log line or an error message (display() and every message omit them).
  std::string username;
  std::string password;

  bool is_proxy() const {
    return kind == PathKind::socks5 || kind == PathKind::socks5h || kind == PathKind::http_proxy;
  }
  bool has_credentials() const { return !username.empty() || !password.empty(); }
  // "socks5h://10.77.0.10:1080", "http://[2001:db8::1]:8080", "iface:wg0", "direct": never credentials.
  std::string display() const;
};

// Parses a --control value: socks5h://HOST:PORT, socks5://HOST:PORT, http://HOST:PORT (a CONNECT
// proxy), each optionally with USER:PASSWORD@ (percent-encoded), or iface:NAME. HOST is an IP
// literal or "localhost": resolving a proxy's name would ask the direct path's resolver, which
// may be the censor's. `problem` never repeats the credentials.
std::optional<PathSpec> parse_control(std::string_view text, std::string* problem);

// Where proxy credentials may come from, besides the URL: the environment (PROBE_CONTROL_AUTH,
// "USER:PASSWORD") or a file readable by its owner only (first line "USER:PASSWORD"), so that
// they need not show in `ps` or a crontab. Fills the paths that have none; throws UserError 78
// for a file others can read and 66 for one that cannot be read.
void apply_credentials(std::vector<PathSpec>& paths, const char* environment_value, const std::string& auth_file);

// Percent-decoding of a URL's userinfo part; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace probe
