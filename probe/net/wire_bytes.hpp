#pragma once

#include <cstdint>
#include <optional>

namespace probe {

// What a TCP connection carried, as the kernel counts it (TCP_INFO): payload bytes received and
// sent, TLS records and proxy handshakes included, retransmissions included in `sent`; and how
// long it had received nothing (tcpi_last_data_recv, in ms), which tells a trickle from silence.
struct WireBytes {
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  std::uint32_t idle_ms = 0;
};

// The counts of a connected TCP socket; nullopt for anything else, or on a kernel too old to count
// (tcpi_bytes_received and tcpi_bytes_sent: Linux 4.1 and 4.19).
std::optional<WireBytes> wire_bytes(int fd);

}  // namespace probe
