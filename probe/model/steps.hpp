#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/target.hpp"
#include "model/observations.hpp"

// The steps of a measurement and the one reading of them that the engine, the verdict and the
// run's table share: which steps a kind runs, which failed first, whether an endpoint or a path
// got through. Nothing else re-derives them.
namespace probe {

enum class Step { tcp, tls, http, stun };
inline constexpr Step k_all_steps[] = {Step::tcp, Step::tls, Step::http, Step::stun};

// "tcp", "tls", "http", "stun": as reports name them (a re-test's `step`, the table's cells).
std::string_view to_string(Step step);
std::optional<Step> step_from_string(std::string_view text);

// The headers the HTTP step sends after Host and User-Agent (steps/tls_http.cpp), in that order;
// exports list them as sent.
struct HeaderLine {
  const char* name;
  const char* value;
};
inline constexpr HeaderLine k_request_headers[] = {{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"},
                                                   {"Accept-Language", "en-US,en;q=0.5"}};

// The step plan: the steps a kind runs on each endpoint, in the order they run (dns targets run
// none; the decoy handshake, the re-test and the throughput samples are follow-ups, not steps).
std::span<const Step> step_plan(Kind kind);

// The step's observation on an endpoint, or nullptr when it did not run.
const StepTiming* step_of(const EndpointObservation& endpoint, Step step);

struct RecordedStep {
  Step step;
  const StepTiming* timing;
};
// The steps an endpoint recorded, in the order they run.
std::vector<RecordedStep> recorded_steps(const EndpointObservation& endpoint);

// The first step that failed on the endpoint, if any.
std::optional<Step> first_failed_step(const EndpointObservation& endpoint);

// Tested, ran at least one step, and none failed (the first attempt alone: re-tests aside).
bool all_steps_passed(const EndpointObservation& endpoint);

// An address the path's own DNS gave (or the target's literal address, which has no source).
bool is_own_address(const EndpointObservation& endpoint, const std::string& path);

// What an endpoint's first attempt at its kind's plan shows, with the re-test of the step that
// failed: the verdict's reading.
enum class Outcome {
  works,       // every step of the plan passed, or the one that failed passed its re-test
  failed,      // a step failed (see `confirmed`)
  not_tested,  // the endpoint was skipped (a family without a route, a bogon)
  incomplete,  // a step of the plan never ran and none failed before it: says nothing
};

struct Attempt {
  Outcome outcome = Outcome::incomplete;
  Step step = Step::tcp;   // the step that failed
  FailureInfo failure;     // its failure
  bool flaky = false;      // the failed step passed its re-test: the endpoint counts as working
  bool confirmed = false;  // the failed step failed its re-test too
  std::optional<FailureInfo> retest_failure;
};

Attempt read_attempt(const EndpointObservation& endpoint, Kind kind);

// One cell of the run's table for a path: "ok" when the path reached the target with its own DNS
// answers; else its first failure as "step failure", DNS first (when no query was answered), then
// the path's own addresses before the others' and IPv4 before IPv6 (so an IPv6 network without a
// route does not hide what happened on IPv4); "not tested" when nothing ran.
std::string path_reading(const TargetResult& result, const std::string& path);

// Marks `residual` on the direct endpoints of `results` (one run's) whose TCP connect failed, at
// its last try, on an address:port where a real-name TLS handshake had failed earlier in the run
// (an interrupted one aside): the censor's after-effect when it blocks the address:port for a
// while after a trigger, so not IP blocking of its own. Clears it everywhere else.
void mark_residual(std::vector<TargetResult>& results, const std::string& direct);

}  // namespace probe
