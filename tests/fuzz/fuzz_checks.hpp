#pragma once

// Properties every input a parser accepts (or rejects) must have, shared by the fuzz targets. A
// failed check aborts: libFuzzer reports it as a crash and saves the input that caused it.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/target.hpp"
#include "targets/host.hpp"
#include "targets/target_list.hpp"
#include "targets/url.hpp"

namespace probe::fuzz {

[[noreturn]] inline void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz check failed: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline std::string_view as_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline bool is_digits(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

// A data error names "<file>:<line>:<column>: " first, with exit code 65.
inline void check_data_error(const UserError& error, const std::string& file) {
  const std::string_view message = error.what();
  if (error.exit_code() != 65) {
    fail("data error with exit code other than 65", message);
  }
  if (message.substr(0, file.size() + 1) != file + ":") {
    fail("data error does not start with the file name", message);
  }
  const std::string_view rest = message.substr(file.size() + 1);
  const auto colon = rest.find(':');
  const auto second = colon == std::string_view::npos ? colon : rest.find(':', colon + 1);
  if (second == std::string_view::npos || !is_digits(rest.substr(0, colon)) ||
      !is_digits(rest.substr(colon + 1, second - colon - 1)) || rest.substr(second, 2) != ": ") {
    fail("data error without line:column", message);
  }
}

// What a valid host is made of: DNS name characters, plus ':' in an IPv6 literal.
inline bool host_characters_ok(std::string_view host) {
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == ':';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// What targets/README.md asks of every target, whichever list or URL it came from, and what the
// measurement steps rely on: a valid lowercase host, a port for every kind but dns, a path only
// for the web kinds, starting with '/', with nothing curl refuses in a URL (spaces, control
// characters), and a URL that reads back as the same target.
inline void check_target(const Target& target) {
  const std::string key = target.key();
  if (!is_app_name(target.app)) {
    fail("target with an invalid app name", key);
  }
  if (host_problem(target.host) || !host_characters_ok(target.host) || target.host != lowercase(target.host)) {
    fail("target with an invalid or uppercase host", key);
  }
  if ((target.kind == Kind::dns) != !target.port || (target.port && *target.port == 0)) {
    fail("target port does not fit its kind", key);
  }
  const bool web = target.kind == Kind::http || target.kind == Kind::https;
  if (target.path.empty() || target.path.front() != '/' || (!web && target.path != "/")) {
    fail("target with a bad path", key);
  }
  for (char c : target.path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F || c == '#') {
      fail("target path with a space, control character or '#'", key);
    }
  }
  if (target.purpose.empty() || target.sources.empty()) {
    fail("target without purpose or sources", key);
  }
  if (target.kind == Kind::dns) {
    return;
  }
  std::string problem;
  const auto again = parse_target_url(target.url(), &problem);
  if (!again) {
    fail("target URL does not parse", target.url() + ": " + problem);
  }
  if (again->kind != target.kind || again->host != target.host || again->port != target.port ||
      (web && again->path != target.path)) {
    fail("target URL reads back as another target", target.url());
  }
}

inline void check_list(const TargetList& list) {
  for (const Target& target : list.targets) {
    check_target(target);
  }
}

}  // namespace probe::fuzz
