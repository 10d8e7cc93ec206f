#include "core/target.hpp"

namespace probe {

std::string_view to_string(Kind kind) {
  switch (kind) {
  case Kind::dns: return "dns";
  case Kind::tcp: return "tcp";
  case Kind::tls: return "tls";
  case Kind::http: return "http";
  case Kind::https: return "https";
  case Kind::stun: return "stun";
  }
  return "dns";
}

std::optional<Kind> kind_from_string(std::string_view text) {
  for (Kind kind : k_all_kinds) {
    if (to_string(kind) == text) {
      return kind;
    }
  }
  return std::nullopt;
}

std::optional<std::uint16_t> default_port(Kind kind) {
  switch (kind) {
  case Kind::tls:
  case Kind::https: return 443;
  case Kind::http: return 80;
  case Kind::stun: return 3478;
  case Kind::dns:
  case Kind::tcp: return std::nullopt;
  }
  return std::nullopt;
}

namespace {
std::string host_for_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}
}  // namespace

std::string Target::url() const {
  if (kind == Kind::dns || !port) {
    return "";
  }
  std::string out = std::string(to_string(kind)) + "://" + host_for_url(host);
  const bool default_web_port = (kind == Kind::https && *port == 443) || (kind == Kind::http && *port == 80);
  if (!default_web_port) {
    out += ":" + std::to_string(*port);
  }
  if (kind == Kind::http || kind == Kind::https) {
    out += path;
  }
  return out;
}

std::string Target::key() const {
  return app + "|" + std::string(to_string(kind)) + "|" + host + "|" +
         (port ? std::to_string(*port) : std::string("-")) + "|" + path;
}

}  // namespace probe
