#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace probe {

// What a target measures: how far the step sequence goes.
enum class Kind {
  dns,    // DNS resolution only
  tcp,    // + TCP connect (never for TLS services: middleboxes terminate TCP)
  tls,    // + TLS handshake with the real SNI
  http,   // TCP + plain HTTP GET
  https,  // TCP + TLS + HTTP GET
  stun,   // STUN binding request over UDP
};

inline constexpr Kind k_all_kinds[] = {Kind::dns,  Kind::tcp,   Kind::tls,
                                       Kind::http, Kind::https, Kind::stun};

std::string_view to_string(Kind kind);
std::optional<Kind> kind_from_string(std::string_view text);
// The port a kind uses when a target names none; nullopt when the kind needs an explicit port
// (tcp) or has no port at all (dns).
std::optional<std::uint16_t> default_port(Kind kind);

// Where a target was defined, for messages and the report.
struct Origin {
  std::string file;  // as given by the user, or "--url"
  std::size_t line = 0;
};

// One thing to measure. Plain value; a default-constructed Target is not valid (empty host).
struct Target {
  std::string app;
  std::string host;                  // lowercase DNS name or IP literal (no brackets)
  std::optional<std::uint16_t> port; // absent only for Kind::dns
  Kind kind = Kind::https;
  std::string path = "/";            // http/https only
  bool any_response = false;         // http/https: any HTTP response means reachable
  bool bogon_expected = false;       // the name normally resolves to a special-purpose address
  std::vector<std::string> ca_files; // extra trust anchors, absolute or relative to the cwd
  std::string purpose;
  std::vector<std::string> sources;
  bool uncertain = false;
  std::string note;
  Origin origin;

  // "https://host[:port]/path" for http(s); "tls://host:port" etc. for others; "" for dns.
  std::string url() const;
  // Identity used to drop duplicates: app, kind, host, port, path.
  std::string key() const;
};

}  // namespace probe
