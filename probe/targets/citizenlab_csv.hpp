#pragma once

#include <string>
#include <string_view>

#include "targets/target_list.hpp"

namespace probe {

// The header every Citizen Lab test-list CSV file starts with.
inline constexpr std::string_view k_citizenlab_header =
    "url,category_code,category_description,date_added,source,notes";

// Parses a Citizen Lab test-list CSV file (RFC 4180 quoting). Each row becomes an http or https
// target of the app named after the file (global.csv -> "global"). Throws UserError (exit 65) as
// "<file>:<line>:<col>: <column name>: <problem>".
TargetList parse_citizenlab_csv(std::string_view text, const std::string& file);

}  // namespace probe
