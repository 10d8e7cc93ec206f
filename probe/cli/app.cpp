#include "cli/app.hpp"

#include <ares.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <streambuf>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/config_file.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/version.hpp"

namespace probe {

namespace {

void setup_logging(int verbose, int quiet) {
  auto logger = spdlog::stderr_color_mt("probe");
  logger->set_pattern("probe: %^%l%$: %v");
  const int level = static_cast<int>(spdlog::level::info) - verbose + quiet;
  logger->set_level(static_cast<spdlog::level::level_enum>(
      std::clamp(level, static_cast<int>(spdlog::level::trace), static_cast<int>(spdlog::level::critical))));
  spdlog::set_default_logger(logger);
}

void add_version_command(CLI::App& app, std::vector<Command>& commands) {
  CLI::App* version = app.add_subcommand("version", "Print the probe's version and its libraries'");
  commands.push_back({version, []() {
                        std::cout << "probe " << k_probe_version << "\n"
                                  << "libcurl " << curl_version_info(CURLVERSION_NOW)->version << "\n"
                                  << "c-ares " << ares_version(nullptr) << "\n"
                                  << OpenSSL_version(OPENSSL_VERSION) << "\n";
                        return exit_code::k_ok;
                      }});
}

// std::cout's buffer: 64 KiB written to descriptor 1 with write(2), keeping the first error, so a
// command's output that did not all arrive (a full disk, /dev/full, a closed pipe) is known.
class CheckedStdout : public std::streambuf {
public:
  CheckedStdout() { setp(m_buffer, m_buffer + sizeof m_buffer); }
  int error() const { return m_error; }

protected:
  int_type overflow(int_type ch) override {
    if (!drain()) {
      return traits_type::eof();
    }
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return drain() ? 0 : -1; }

private:
  bool drain() {
    const char* at = pbase();
    while (m_error == 0 && at < pptr()) {
      const ssize_t n = ::write(STDOUT_FILENO, at, static_cast<std::size_t>(pptr() - at));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        m_error = n < 0 ? errno : EIO;
        break;
      }
      at += n;
    }
    setp(m_buffer, m_buffer + sizeof m_buffer);  // what could not be written is dropped
    return m_error == 0;
  }

  char m_buffer[65536];
  int m_error = 0;
};

int run_command_line(int argc, char** argv);

}  // namespace

// Every command's stdout is checked: a write that failed is exit 74 with the reason (the command's
// own code otherwise); a reader that went away (EPIPE, where SIGPIPE is ignored) ends it quietly,
// as SIGPIPE ends a tool, with 141.
int run_cli(int argc, char** argv) {
  static CheckedStdout checked;
  std::streambuf* const original = std::cout.rdbuf(&checked);
  const int code = run_command_line(argc, argv);
  std::cout.flush();
  std::cout.rdbuf(original);
  if (checked.error() == EPIPE) {
    return 128 + SIGPIPE;
  }
  if (checked.error() != 0) {
    std::cerr << "probe: error: standard output: write failed: " << std::strerror(checked.error())
              << (code == exit_code::k_ok ? "" : " (the command's own exit code was " + std::to_string(code) + ")")
              << "\n";
    return exit_code::k_io_error;
  }
  return code;
}

namespace {

int run_command_line(int argc, char** argv) {
  ares_library_init(ARES_LIB_INIT_ALL);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CLI::App app{
      "probe: measures whether apps (Signal, Facebook/Messenger, Twitter/X, Clubhouse) are blocked\n"
      "on this network, and how, by comparing the direct path with control paths.\n"
      "Reports are JSON files in reports/; a finished run exits 0 whatever it found.",
      "probe"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_help_all_flag("--help-all", "Print help for every subcommand");
  app.footer(
      "Exit codes: 0 done (whatever was found), 64 usage, 65 bad input data, 66 input missing,\n"
      "73 cannot create output, 74 write failed, 75 locked, 78 configuration refused,\n"
      "130/143 stopped by SIGINT/SIGTERM (the report is written, marked interrupted).\n"
      "Run 'probe SUBCOMMAND --help' for a subcommand's options.");
  int verbose = 0;
  int quiet = 0;
  app.add_flag("-v,--verbose", verbose, "More detail on stderr (repeat for more)");
  app.add_flag("-q,--quiet", quiet, "Only warnings and errors on stderr (repeat for errors only)");
  add_config_option(app);

  std::vector<Command> commands;
  add_run_command(app, commands);
  add_recover_command(app, commands);
  add_diff_command(app, commands);
  add_history_command(app, commands);
  add_summary_command(app, commands);
  add_export_command(app, commands);
  add_targets_commands(app, commands);
  add_schedule_command(app, commands);
  add_version_command(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return exit_code::k_ok;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return exit_code::k_ok;
  } catch (const CLI::FileError& error) {
    std::cerr << "probe: --config: " << error.what() << "\n";
    return exit_code::k_no_input;
  } catch (const UserError& error) {  // --config's file, checked before it is read
    std::cerr << "probe: --config: " << error.what() << "\n";
    return error.exit_code();
  } catch (const CLI::ParseError& error) {
    // The user's own subcommand help is the most useful pointer.
    std::string where = "probe";
    for (const CLI::App* sub = &app; sub != nullptr;) {
      const auto chosen = sub->get_subcommands();
      sub = chosen.empty() ? nullptr : chosen.front();
      if (sub != nullptr) {
        where += " " + sub->get_name();
      }
    }
    std::cerr << "probe: " << error.what() << " (see '" << where << " --help')\n";
    return exit_code::k_usage;
  }
  setup_logging(verbose, quiet);
  try {
    for (const Command& command : commands) {
      if (command.app->parsed()) {
        return command.run();
      }
    }
    std::cerr << "probe: no subcommand given (see 'probe --help')\n";
    return exit_code::k_usage;
  } catch (const UserError& error) {
    spdlog::error("{}", error.what());
    return error.exit_code();
  } catch (const std::exception& error) {
    spdlog::critical("internal error: {}", error.what());
    return exit_code::k_software;
  }
}

}  // namespace

}  // namespace probe
