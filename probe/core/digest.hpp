#pragma once

#include <string>
#include <string_view>

namespace probe {

// Lowercase hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

// Standard base64 (RFC 4648, with padding) of `bytes`.
std::string base64_encode(std::string_view bytes);

}  // namespace probe
