#pragma once

#include <cstdint>

namespace probe::test {

// A UDP port on 127.0.0.1 with nothing bound to it: the kernel answers datagrams sent there with
// ICMP port unreachable. Bound and closed again to get one, so another process could take it in
// between, which on loopback during a test is unlikely. Throws std::runtime_error when no socket
// can be bound.
std::uint16_t closed_udp_port();

// A TCP port on 127.0.0.1 that nothing uses right now, for a server that must be told its port
// (microsocks, tinyproxy). Found the same way, with the same small race.
std::uint16_t free_tcp_port();

}  // namespace probe::test
