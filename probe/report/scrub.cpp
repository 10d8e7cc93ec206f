#include "report/scrub.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "core/digest.hpp"

namespace probe {

namespace {

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }
// A character that can continue a host name or a file name: "ubuntu" is not a whole word in
// "ubuntu.com" or "my-ubuntu-box", and "/root" is not a folder in "https://root.example.org/".
bool is_name(char c) { return is_word(c) || c == '.' || c == '-'; }

// The machine's home folder where it stands as a path: not inside a longer name ("/rootfs",
// "/root.example.org") and not after another name or a second slash (a URL's "//root.host/" or
// a server's "/srv/home/x" are not this machine's folder).
bool path_bounded(const std::string& text, std::size_t begin, std::size_t end) {
  const bool before_ok = begin == 0 || (!is_name(text[begin - 1]) && text[begin - 1] != '/');
  const bool after_ok = end == text.size() || !is_name(text[end]);
  return before_ok && after_ok;
}

// Replaces each occurrence of `needle` in `text` for which `bounded(text, begin, end)` holds.
template <typename Bounded>
std::string replace_bounded(const std::string& text, const std::string& needle, Bounded bounded) {
  std::string out;
  std::size_t from = 0;
  while (true) {
    const std::size_t at = text.find(needle, from);
    if (at == std::string::npos) {
      break;
    }
    if (bounded(text, at, at + needle.size())) {
      out.append(text, from, at - from);
      out += k_scrubbed;
    } else {
      out.append(text, from, at - from + needle.size());
    }
    from = at + needle.size();
  }
  if (from == 0) {
    return text;
  }
  out.append(text, from, std::string::npos);
  return out;
}

// An IPv4 address stands alone: no digit or dot-and-digit around it ("10.0.0.1" is not part of
// "110.0.0.12"); an IPv6 one has no hex digit or colon around it.
bool address_bounded(const std::string& text, std::size_t begin, std::size_t end, bool v6) {
  if (v6) {
    return (begin == 0 || (!is_hex(text[begin - 1]) && text[begin - 1] != ':')) &&
           (end == text.size() || (!is_hex(text[end]) && text[end] != ':'));
  }
  const bool before_ok = begin == 0 || (!is_digit(text[begin - 1]) && text[begin - 1] != '.');
  const bool after_ok =
      end == text.size() || (!is_digit(text[end]) && !(text[end] == '.' && end + 1 < text.size() &&
                                                       is_digit(text[end + 1])));
  return before_ok && after_ok;
}

std::uint16_t read16(const std::string& bytes, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[at]) << 8) |
                                    static_cast<unsigned char>(bytes[at + 1]));
}

// The position after the name at `at`, or npos when it runs out of the message.
std::size_t skip_name(const std::string& bytes, std::size_t at) {
  while (at < bytes.size()) {
    const auto length = static_cast<unsigned char>(bytes[at]);
    if ((length & 0xC0) == 0xC0) {
      return at + 2 <= bytes.size() ? at + 2 : std::string::npos;
    }
    if ((length & 0xC0) != 0) {
      return std::string::npos;
    }
    if (length == 0) {
      return at + 1;
    }
    at += 1 + length;
  }
  return std::string::npos;
}

// Zeroes the address of every EDNS Client Subnet option (RFC 7871, option 8) of the message.
void zero_client_subnets(std::string& bytes) {
  if (bytes.size() < 12) {
    return;
  }
  std::size_t at = 12;
  const std::size_t questions = read16(bytes, 4);
  const std::size_t records = static_cast<std::size_t>(read16(bytes, 6)) + read16(bytes, 8) + read16(bytes, 10);
  for (std::size_t i = 0; i < questions; ++i) {
    at = skip_name(bytes, at);
    if (at == std::string::npos || at + 4 > bytes.size()) {
      return;
    }
    at += 4;
  }
  for (std::size_t i = 0; i < records; ++i) {
    at = skip_name(bytes, at);
    if (at == std::string::npos || at + 10 > bytes.size()) {
      return;
    }
    const std::uint16_t type = read16(bytes, at);
    const std::size_t length = read16(bytes, at + 8);
    const std::size_t data = at + 10;
    if (data + length > bytes.size()) {
      return;
    }
    if (type == 41) {  // OPT: a list of (code, length, data) options
      std::size_t option = data;
      while (option + 4 <= data + length) {
        const std::uint16_t code = read16(bytes, option);
        const std::size_t option_length = read16(bytes, option + 2);
        const std::size_t value = option + 4;
        if (value + option_length > data + length) {
          break;
        }
        // family (2), source prefix (1), scope prefix (1), then the address
        if (code == 8 && option_length > 4) {
          std::memset(bytes.data() + value + 4, 0, option_length - 4);
        }
        option = value + option_length;
      }
    }
    at = data + length;
  }
}

}  // namespace

Scrubber Scrubber::for_this_machine() {
  Scrubber scrubber;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
      if (entry->ifa_addr == nullptr) {
        continue;
      }
      char text[INET6_ADDRSTRLEN] = {};
      const int family = entry->ifa_addr->sa_family;
      if (family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(static_cast<const void*>(entry->ifa_addr));
        if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) {
          continue;  // loopback: also what some names legitimately resolve to
        }
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      } else if (family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(static_cast<const void*>(entry->ifa_addr));
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
          continue;
        }
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      } else {
        continue;
      }
      scrubber.add_address(text);
    }
    freeifaddrs(list);
  }
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    scrubber.add_path(home);
  }
  if (const passwd* user = getpwuid(getuid()); user != nullptr) {
    if (user->pw_dir != nullptr) {
      scrubber.add_path(user->pw_dir);
    }
    // A person's account (Debian gives those uids from 1000); a system account such as the
    // one a service runs as names nobody, and its name may be a common word.
    if (user->pw_uid >= 1000 && user->pw_name != nullptr) {
      scrubber.add_word(user->pw_name);
    }
  }
  return scrubber;
}

void Scrubber::add_address(const std::string& address) {
  unsigned char binary[16];
  if (inet_pton(AF_INET, address.c_str(), binary) == 1) {
    if (binary[0] == 127) {
      return;  // loopback is nobody's: also what some names legitimately resolve to
    }
    m_binary.insert(std::string(reinterpret_cast<const char*>(binary), 4));
  } else if (inet_pton(AF_INET6, address.c_str(), binary) == 1) {
    static constexpr unsigned char k_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (std::memcmp(binary, k_loopback, 16) == 0) {
      return;
    }
    m_binary.insert(std::string(reinterpret_cast<const char*>(binary), 16));
  } else {
    return;
  }
  m_addresses.insert(address);
}

void Scrubber::add_word(const std::string& word) {
  if (word.size() >= 3 && word != "root") {
    m_words.insert(word);
  }
}

void Scrubber::add_path(const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') {
    trimmed.pop_back();
  }
  if (trimmed.size() >= 2) {
    m_paths.insert(trimmed);
  }
}

std::string Scrubber::text(std::string_view in) const {
  std::string out(in);
  for (const std::string& path : m_paths) {
    out = replace_bounded(out, path, path_bounded);
  }
  for (const std::string& address : m_addresses) {
    const bool v6 = address.find(':') != std::string::npos;
    out = replace_bounded(out, address, [v6](const std::string& text, std::size_t begin, std::size_t end) {
      return address_bounded(text, begin, end, v6);
    });
  }
  for (const std::string& word : m_words) {
    out = replace_bounded(out, word, [](const std::string& text, std::size_t begin, std::size_t end) {
      // Not inside a name, nor a step of a path or URL ("https://ubuntu/", "/users/ubuntu/"): the
      // home folder's own rule covers the machine's paths.
      const auto joined = [](char c) { return is_name(c) || c == '/'; };
      return (begin == 0 || !joined(text[begin - 1])) && (end == text.size() || !joined(text[end]));
    });
  }
  return out;
}

std::string Scrubber::dns_message(std::string bytes) const {
  for (const std::string& binary : m_binary) {
    for (std::size_t at = bytes.find(binary); at != std::string::npos; at = bytes.find(binary, at + 1)) {
      std::memset(bytes.data() + at, 0, binary.size());
    }
  }
  zero_client_subnets(bytes);
  return bytes;
}

bool Scrubber::holds_machine(const std::string& bytes) const {
  for (const std::string& binary : m_binary) {
    if (bytes.find(binary) != std::string::npos) {
      return true;
    }
  }
  return text(bytes) != bytes;
}

void Scrubber::scrub_certificates(nlohmann::json& certificates) const {
  std::vector<std::string> dropped;
  for (const auto& [sha256, der] : certificates.items()) {
    const auto bytes = der.is_string() ? base64_decode(der.get<std::string>()) : std::nullopt;
    if (bytes && holds_machine(*bytes)) {
      dropped.push_back(sha256);
    }
  }
  for (const std::string& sha256 : dropped) {
    certificates.erase(sha256);
  }
}

void Scrubber::scrub(nlohmann::json& value) const {
  if (value.is_object()) {
    for (auto& [key, item] : value.items()) {
      if ((key == "url" || key == "host") && item.is_string()) {
        continue;  // a target's identity comes from its list, not from this machine
      }
      if (key == "certificates" && item.is_object()) {
        scrub_certificates(item);
        continue;
      }
      if (key == "raw_base64" && item.is_string()) {
        if (const auto bytes = base64_decode(item.get<std::string>())) {
          item = base64_encode(dns_message(*bytes));
        }
        continue;
      }
      scrub(item);
    }
  } else if (value.is_array()) {
    for (auto& item : value) {
      scrub(item);
    }
  } else if (value.is_string()) {
    const std::string& original = value.get_ref<const std::string&>();
    std::string cleaned = text(original);
    if (cleaned != original) {
      value = std::move(cleaned);
    }
  }
}

}  // namespace probe
