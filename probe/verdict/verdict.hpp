#pragma once

#include <string>
#include <vector>

#include "model/observations.hpp"

// The verdict stage: pure functions from the observations of every path to a Verdict, following
// the rules README's "How to read a verdict" gives, in order. No I/O. A wrong "blocked" is the worst mistake a probe can
// make, so every doubt resolves towards "inconclusive": blocked needs a healthy control path that
// works, a layer of blocking seen on direct, and the failing direct step confirmed by its re-test.
namespace probe {

// What the run knows about one path. `healthy` means a control path passed its start-up check
// and carried at least one successful measurement in the run; it is not used for direct.
struct PathStatus {
  std::string name;
  bool control = false;  // "direct" is not a control path
  bool healthy = false;
  // A fifth or more of the path's connection steps timed out while others got through (the
  // engine's measure): a timeout there may be the link, not the target.
  bool congested = false;
};

// Judges one target. `paths`: every path of the run (direct first); a control path that is not
// listed is ignored. `interrupted`: the run was stopped before it finished.
Verdict judge(const TargetResult& result, const std::vector<PathStatus>& paths, bool interrupted = false);

}  // namespace probe
