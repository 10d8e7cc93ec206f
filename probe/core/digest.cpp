#include "core/digest.hpp"

#include <openssl/evp.h>

namespace probe {

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += k_hex[digest[i] >> 4];
    out += k_hex[digest[i] & 0x0F];
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned value = (static_cast<unsigned char>(bytes[i]) << 16) |
                           (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                           static_cast<unsigned char>(bytes[i + 2]);
    out += k_alphabet[(value >> 18) & 63];
    out += k_alphabet[(value >> 12) & 63];
    out += k_alphabet[(value >> 6) & 63];
    out += k_alphabet[value & 63];
  }
  if (i < bytes.size()) {
    unsigned value = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) {
      value |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    }
    out += k_alphabet[(value >> 18) & 63];
    out += k_alphabet[(value >> 12) & 63];
    out += i + 1 < bytes.size() ? k_alphabet[(value >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  const auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const std::size_t padding = last ? (text[i + 3] == '=' ? (text[i + 2] == '=' ? 2 : 1) : 0) : 0;
    unsigned value = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const int v = k >= 4 - padding ? 0 : value_of(text[i + k]);
      if (v < 0) {
        return std::nullopt;
      }
      value = (value << 6) | static_cast<unsigned>(v);
    }
    out += static_cast<char>((value >> 16) & 0xFF);
    if (padding < 2) {
      out += static_cast<char>((value >> 8) & 0xFF);
    }
    if (padding < 1) {
      out += static_cast<char>(value & 0xFF);
    }
  }
  return out;
}

}  // namespace probe
