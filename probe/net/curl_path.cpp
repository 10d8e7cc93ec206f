#include "net/curl_path.hpp"

#include <curl/curl.h>

#include <array>
#include <string_view>

#include "targets/host.hpp"

namespace probe {

namespace {

constexpr std::array<std::string_view, 6> k_proxy_schemes = {"http", "https", "socks4", "socks4a", "socks5",
                                                             "socks5h"};

struct ProxyParts {
  std::string scheme;  // curl's default, http, when the URL has none
  bool has_userinfo = false;
  std::string host;  // without brackets
};

ProxyParts split_proxy(std::string_view url) {
  ProxyParts parts;
  std::string_view rest = url;
  if (const auto colon_slashes = url.find("://"); colon_slashes != std::string_view::npos) {
    parts.scheme = lowercase(url.substr(0, colon_slashes));
    rest = url.substr(colon_slashes + 3);
  } else {
    parts.scheme = "http";
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    parts.has_userinfo = true;
    authority = authority.substr(at + 1);
  }
  if (!authority.empty() && authority.front() == '[') {
    parts.host = std::string(authority.substr(1, authority.find(']') - 1));
  } else {
    parts.host = std::string(authority.substr(0, authority.find(':')));
  }
  return parts;
}

}  // namespace

std::string proxy_scheme(const CurlPath& path) { return path.proxy.empty() ? "" : split_proxy(path.proxy).scheme; }

bool proxy_resolves_names(const CurlPath& path) {
  const std::string scheme = proxy_scheme(path);
  return scheme == "socks5h" || scheme == "socks4a" || scheme == "http" || scheme == "https";
}

std::optional<std::string> proxy_problem(const CurlPath& path) {
  if (path.proxy.empty()) {
    return std::nullopt;
  }
  const ProxyParts parts = split_proxy(path.proxy);
  bool known = false;
  for (const auto scheme : k_proxy_schemes) {
    known = known || parts.scheme == scheme;
  }
  if (!known) {
    return "proxy scheme '" + parts.scheme + "' is not one of http, https, socks4, socks4a, socks5, socks5h";
  }
  if (parts.has_userinfo) {
    // Not repeated in the message: that part of the URL is a secret.
    return "the proxy URL carries credentials; give them as the proxy user name and password instead";
  }
  if (!is_ip_literal(parts.host)) {
    return "proxy host '" + parts.host + "' is not an IP address (curl would resolve it by itself)";
  }
  return std::nullopt;
}

void apply_path(CURL* easy, const CurlPath& path) {
  curl_easy_setopt(easy, CURLOPT_PROXY, path.proxy.c_str());
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
  if (!path.proxy.empty()) {
    if (!path.proxy_username.empty() || !path.proxy_password.empty()) {
      // Separate options, not the URL: nothing curl prints about the proxy can then contain them.
      curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, path.proxy_username.c_str());
      curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD, path.proxy_password.c_str());
    }
    const std::string scheme = proxy_scheme(path);
    if (scheme == "http" || scheme == "https") {
      curl_easy_setopt(easy, CURLOPT_HTTPPROXYTUNNEL, 1L);
    }
  }
  if (!path.interface.empty()) {
    // "if!": an interface name only, never taken for a host name or an address to resolve.
    const std::string device = "if!" + path.interface;
    curl_easy_setopt(easy, CURLOPT_INTERFACE, device.c_str());
  }
}

std::string redact_credentials(std::string text, const CurlPath& path) {
  for (const std::string* secret : {&path.proxy_username, &path.proxy_password}) {
    if (secret->empty()) {
      continue;
    }
    for (auto at = text.find(*secret); at != std::string::npos; at = text.find(*secret, at + 3)) {
      text.replace(at, secret->size(), "***");
    }
  }
  return text;
}

std::string without_userinfo(std::string_view text) {
  const std::size_t scheme = text.find("://");
  const std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  // The authority ends at the first '/' after the scheme; a password may hold '@' and ':' but
  // (percent-encoded or not) is cut at the last '@' before that.
  const std::size_t slash = text.find('/', start);
  const std::string_view authority = text.substr(start, slash == std::string_view::npos ? text.npos : slash - start);
  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string(text);
  }
  return std::string(text.substr(0, start)) + "***" + std::string(text.substr(start + at));
}

}  // namespace probe
