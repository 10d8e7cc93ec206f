#pragma once

#include <optional>
#include <string>

namespace probe {

// The interface the kernel would send a packet for `address` (an IP literal) by, bound to
// `bind_device` when not empty: a route lookup (a UDP connect, which sends nothing), then the
// interface that holds the chosen source address. nullopt when there is no route.
std::optional<std::string> egress_interface(const std::string& address, const std::string& bind_device = "");

// The direct path's egress: the route to a documentation address (nothing is sent to it).
std::optional<std::string> default_egress();

bool interface_exists(const std::string& name);

// Whether `name` is a layer-3 tunnel (tun, WireGuard, ...): its link type is "none"
// (ARPHRD_NONE). A default route through one means "direct" is really a VPN.
bool is_tunnel_device(const std::string& name);

}  // namespace probe
