#pragma once

#include "dns/lifecycle.hpp"
#include "dns/resolver.hpp"

namespace probe {

// Sends A/AAAA queries to one server over UDP through c-ares, driven by the run's event loop.
class DnsResolver : public TransportResolver {
public:
  DnsResolver(EventLoop& loop, ResolverSpec spec, const DnsSettings& settings, const BogonTable& bogons,
              MonoTime run_start);

  const ResolverSpec& spec() const { return m_spec; }

private:
  ResolverSpec m_spec;
};

}  // namespace probe
