#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/target.hpp"
#include "dns/bogon.hpp"
#include "dns/resolver.hpp"
#include "net/event_loop.hpp"
#include "report/report.hpp"

namespace probe {

struct RunSettings {
  int timeout_ms = 5000;
  int tries = 2;
  std::size_t concurrency = 256;       // operations in flight at once, across all targets
  std::vector<ResolverSpec> resolvers;  // system resolvers first, then --resolver ones
  std::vector<Cidr> allow_bogon;
};

// Measures every target: DNS (A and AAAA) on the direct path through every resolver. One event
// loop, no thread per target: the run costs as long as its slowest operation, not their sum.
// Results come back in the order of `targets`; queries within a path are sorted by resolver and type.
std::vector<TargetResult> measure(const std::vector<Target>& targets, const RunSettings& settings,
                                  MonoTime run_start);

}  // namespace probe
