#pragma once

#include <CLI/CLI.hpp>

namespace probe {

// --config FILE on the top-level command: a file of flag values (TOML, or INI with `#` comments),
// so a scheduled run need not repeat them. Top-level keys are the global flags (`quiet = true`);
// a section per subcommand holds its flags (`[run]`, then `timeout = 3`, `resolver = ["9.9.9.9"]`).
// A flag given on the command line wins over the file. Every key is checked before any is used:
// an unknown section or key, a value the flag refuses, or a flag that cannot be set from a file
// is a CLI::ConfigError whose message names the file and the key (exit 64); a missing file is a
// CLI::FileError (exit 66).
void add_config_option(CLI::App& app);

// The --config file given, or empty.
std::string config_file(const CLI::App& app);

}  // namespace probe
