#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/observations.hpp"
#include "verdict/verdict.hpp"

// The verdict's first phase: a result's observations indexed once. Which path is direct, which
// healthy controls say something about the target (and whether their steps work there), direct's
// own resolution, every path's endpoints joined by address, the addresses that serve the target
// and the plain-HTTP references. Signals and rules read this; nothing here decides a verdict.
namespace probe::judging {

enum class ControlState {
  works,   // the target's steps (or, for dns targets, its DNS) succeed over it
  fails,   // it reached the target's name or addresses and failed there
  silent,  // it says nothing about this target: only proxy_error, or nothing it could test
};

struct Control {
  std::string name;
  const PathObservations* observations = nullptr;
  ControlState state = ControlState::silent;
  bool congested = false;
  std::map<std::string, const EndpointObservation*> by_address;  // its first endpoint at each address

  // Its endpoint at `address`, or nullptr.
  const EndpointObservation* at(const std::string& address) const;
};

class Observed {
public:
  Observed(const TargetResult& result, const std::vector<PathStatus>& paths);

  const TargetResult& result;
  const Target& target;
  const Kind kind;
  std::string direct_name = "direct";
  std::vector<Control> controls;         // the healthy controls that say something about this target
  std::vector<std::string> congested;    // the paths the run found congested
  bool silent_controls = false;          // a healthy control could not test it (UDP over a proxy, proxy errors)
  std::vector<const HttpObservation*> references;  // plain HTTP: control's responses to compare with

  const PathObservations& direct() const;
  bool ip_literal() const { return m_ip_literal; }
  // The direct path's own resolution: the system resolver's queries, or, when it has none
  // (--no-system-resolver), every other direct query but the injection probe.
  const std::vector<const DnsQuery*>& own_queries() const { return m_own_queries; }
  // The addresses of that resolution (for an IP-literal host, the host).
  const std::set<std::string>& own_addresses() const { return m_own_addresses; }
  // Direct's endpoint at `address`, or nullptr.
  const EndpointObservation* direct_at(const std::string& address) const;
  // The addresses a control's own DNS gave (for an IP-literal host, the host).
  std::set<std::string> control_addresses(const Control& control) const;
  // No reference means nothing to compare with: a response is then taken as the site's.
  bool matches_reference(const HttpObservation& http) const;
  // A good address serves the target: a real-name TLS handshake with a valid certificate
  // succeeded there on any path (as OONI decides), or, for kinds without TLS, the kind's steps
  // succeeded there over a healthy control path, with no known blockpage and (plain HTTP) a
  // response like the one control gets from its own addresses.
  bool good(const std::string& address) const { return m_good.count(address) > 0; }
  // In the same /24 or /48 as a good address: most likely another edge of the same operator, down
  // or overloaded where direct's resolver points, rather than an address a censor made up.
  bool near_good(const std::string& address) const;
  // The healthy control endpoint at this address that works, if any: the reference a direct
  // endpoint is compared with.
  const EndpointObservation* working_control_at(const std::string& address, std::string* path_name = nullptr) const;

private:
  ControlState classify(const PathObservations& path) const;
  void find_good_addresses();
  // The plain-HTTP responses a direct response is compared with: what healthy controls got from
  // the addresses their own DNS gave, as OONI's control fetches the URL with its own resolution
  // (so a censor's blockpage server in direct's answers is never a reference). A 5xx is a
  // server's trouble, not a reference page.
  std::vector<const HttpObservation*> find_references() const;

  const PathObservations* m_direct = nullptr;
  std::map<std::string, const EndpointObservation*> m_direct_by_address;
  bool m_ip_literal = false;
  std::vector<const DnsQuery*> m_own_queries;
  std::set<std::string> m_own_addresses;
  std::set<std::string> m_good;
};

}  // namespace probe::judging
