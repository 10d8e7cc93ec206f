#pragma once

#include <filesystem>
#include <string_view>

namespace probe {

// Writes `content` to `path` so that readers see either the old file or the complete new one,
// never a part: a temporary file in the same folder, written in full, fsynced, renamed over
// `path`, then the folder fsynced so the rename survives a power loss. The file gets `mode`.
// On failure the temporary file is removed and any previous file at `path` is left untouched.
// Throws UserError: 73 when the file cannot be created, 74 when writing or syncing it fails.
void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           unsigned mode = 0600);

// Creates `folder` (and parents) when missing, mode 0700 for what it creates.
// Throws UserError 73 when it cannot, or when `folder` exists and is not a folder.
void ensure_folder(const std::filesystem::path& folder);

}  // namespace probe
