#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "net/event_loop.hpp"
#include "model/observations.hpp"

namespace probe {

// The STUN step (RFC 5389): one Binding Request over UDP to address:port; success when a Binding
// Success Response with our transaction id arrives before the timeout. Replies with another id
// are ignored (they are not ours), ICMP errors fail the step with their errno. The request is
// sent again every 500 ms until the timeout, as RFC 5389 clients do over UDP. `bind_device`, when
// not empty, sends it by that interface (an interface path).
// `on_mapped`, when set, is given the address the server saw the request come from (the
// response's XOR-MAPPED-ADDRESS): this machine's address as the network maps it, which the report
// never holds (report/scrub.hpp) and is not otherwise recorded.
void start_stun(EventLoop& loop, const std::string& address, std::uint16_t port, Millis timeout,
                MonoTime run_start, std::function<void(StepTiming)> done, const std::string& bind_device = "",
                std::function<void(const std::string&)> on_mapped = {});

// The (XOR-)MAPPED-ADDRESS of a Binding Success Response, as text; nullopt when it has none.
std::optional<std::string> stun_mapped_address(const unsigned char* data, std::size_t length);

}  // namespace probe
