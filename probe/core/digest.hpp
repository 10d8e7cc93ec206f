#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace probe {

// Lowercase hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

// Standard base64 (RFC 4648, with padding) of `bytes`.
std::string base64_encode(std::string_view bytes);
// Its inverse; nullopt for anything that is not standard padded base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace probe
