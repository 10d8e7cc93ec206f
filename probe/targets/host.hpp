#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/text.hpp"  // lowercase: host names compare as lowercase ASCII

namespace probe {

// Checks a target host: a DNS name of letters, digits, '-' and '_' labels (1-63 characters each,
// at most 253 in all, no trailing dot, not all-numeric at the top) or an IPv4/IPv6 literal without
// brackets. Returns a short description of the problem, or nullopt when the host is fine.
std::optional<std::string> host_problem(std::string_view host);

bool is_ip_literal(std::string_view host);

}  // namespace probe
