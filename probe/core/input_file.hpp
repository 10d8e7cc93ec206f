#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

// Reading what a user or a folder gives: a target list, a report, a crash log, a CA file, a
// configuration or credentials file. Only regular files are read (a FIFO would block its reader,
// and the run with it, for ever; a device such as /dev/zero never ends), and at most a cap that
// fits what the file is, so a hostile or mistaken input costs bounded memory and time.
namespace probe {

inline constexpr std::uintmax_t k_mib = 1024 * 1024;

// Throws UserError 66 when `path` cannot be opened or read (naming the system's reason), 65 when
// it is not a regular file (naming what it is: a FIFO, a device, a folder) or holds more than
// `limit` bytes ("r.json: 300 MiB, more than the 128 MiB a report file may hold"). `what` names the kind
// of file in that message. The file is opened without blocking, so a FIFO is refused at once.
std::string read_input_file(const std::filesystem::path& path, std::uintmax_t limit, std::string_view what);

// The same checks without reading: for a file another library opens itself.
void check_input_file(const std::filesystem::path& path, std::uintmax_t limit, std::string_view what);

// "12 MiB", "300 KiB", "17 bytes": a size for messages.
std::string size_text(std::uintmax_t bytes);

}  // namespace probe
