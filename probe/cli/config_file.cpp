#include "cli/config_file.hpp"

#include <memory>
#include <string>
#include <vector>

#include "core/input_file.hpp"

namespace probe {

namespace {

// CLI11's reader, checking each item against the commands it would go to. CLI11 itself ignores
// unknown keys and reports a bad value without the file's name; a volunteer editing a file that
// cron reads every six hours needs both.
class CheckedConfig : public CLI::ConfigTOML {
public:
  explicit CheckedConfig(CLI::App& app) : m_app(app) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::vector<CLI::ConfigItem> read = CLI::ConfigTOML::from_config(input);
    const std::string file = config_file(m_app);
    for (const CLI::ConfigItem& item : read) {
      check(file, item);
    }
    return read;
  }

private:
  void check(const std::string& file, const CLI::ConfigItem& item) const {
    const bool section = item.name == "++" || item.name == "--";  // a section's start and end
    const std::string key = section ? "[" + CLI::detail::join(item.parents, ".") + "]" : item.fullname();
    CLI::App* command = &m_app;
    for (const std::string& parent : item.parents) {
      try {
        command = command->get_subcommand(parent);
      } catch (const CLI::OptionNotFound&) {
        throw CLI::ConfigError(file + ": " + key + ": no command '" + parent + "'");
      }
    }
    if (section) {
      return;
    }
    CLI::Option* option = command->get_option_no_throw("--" + item.name);
    if (option == nullptr && item.name.size() == 1) {
      option = command->get_option_no_throw("-" + item.name);
    }
    if (option == nullptr) {
      throw CLI::ConfigError(file + ": " + key + ": '" + command_path(*command) + "' has no flag --" + item.name);
    }
    if (!option->get_configurable()) {
      throw CLI::ConfigError(file + ": " + key + ": not allowed in a configuration file");
    }
    if (!option->empty()) {
      return;  // given on the command line, which wins: the file's value is not used
    }
    // The flag's own conversion and checks, run once here and undone; CLI11 applies the item
    // again right after.
    try {
      if (option->get_expected_min() == 0) {
        option->add_result(option->get_flag_value(item.name, to_flag(item)));
      } else {
        option->add_result(item.inputs);
      }
      option->run_callback();
      option->clear();
    } catch (const CLI::ParseError& error) {
      option->clear();
      throw CLI::ConfigError(file + ": " + key + ": " + without_flag_name(error.what(), *option));
    }
  }

  static std::string command_path(const CLI::App& command) {
    std::string path;
    for (const CLI::App* app = &command; app != nullptr; app = app->get_parent()) {
      path = app->get_name() + (path.empty() ? "" : " " + path);
    }
    return path;
  }

  // CLI11 starts its messages with the flag ("--timeout: Value abc not in range ..."); the key
  // says it already.
  static std::string without_flag_name(const std::string& message, const CLI::Option& option) {
    const std::string prefix = option.get_name() + ": ";
    return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
  }

  CLI::App& m_app;
};

}  // namespace

void add_config_option(CLI::App& app) {
  app.set_config("--config", "",
                 "Read flag values from this file (TOML/INI: global flags at the top, a [run] section for "
                 "run's); the command line wins over it")
      ->type_name("FILE")
      ->expected(1)
      // Before CLI11 opens it: a regular file of at most 1 MiB (a FIFO would block, /dev/zero is
      // one endless line). UserError 65/66 goes through CLI11's parse to run_app.
      ->check(
          [](const std::string& path) {
            check_input_file(path, k_mib, "configuration");
            return std::string();
          },
          "FILE");
  app.config_formatter(std::make_shared<CheckedConfig>(app));
}

std::string config_file(const CLI::App& app) {
  const CLI::Option* option = app.get_config_ptr();
  return option != nullptr && option->count() > 0 ? option->as<std::string>() : std::string();
}

}  // namespace probe
