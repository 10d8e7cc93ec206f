#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "model/observations.hpp"

// One entry of a report's `results` (reports/README.md, "A result"), written and read in one
// place: result_to_json is what `probe run` writes (report/ adds the frame, the size caps and the
// scrubbing), result_from_json is how every reader gets it back as model/'s types, so readers use
// model/steps.hpp's readings instead of re-deriving them over raw JSON.
namespace probe {

nlohmann::json verdict_to_json(const std::optional<Verdict>& verdict);
nlohmann::json result_to_json(const TargetResult& result, const std::optional<Verdict>& verdict);

// Reads a result back. Every field a report of a readable schema version may lack (version 1 had
// no signatures, throughput or residual; a result cut to size has no endpoints or answers) reads
// as its default. A field of the wrong type, or a value outside its closed vocabulary (a kind,
// a failure, a status, a signature), throws UserError 65 naming `where` and the field as a JSON
// path: "r.json: results/3/paths/direct/endpoints/0/tcp/failure: expected a failure string, got 5".
// `where` is the file and the result ("r.json: results/3"). Each chain entry takes its DER
// (der_base64) from `certificates`, the report's top-level object (sha256 -> base64 DER) that
// store/'s check_report_frame has checked; an entry it lacks keeps none.
TargetResult result_from_json(const nlohmann::json& result, const std::string& where,
                              const nlohmann::json& certificates = nlohmann::json::object());

// A wrong value as messages show it: its JSON cut to 40 characters; an object or an array only as
// "an object" or "an array" (a reader that scans without building the tree shows them the same).
std::string shown_json(const nlohmann::json& value);

// The verdict alone (`result["verdict"]`), null when the target was not judged; as above.
std::optional<Verdict> verdict_from_json(const nlohmann::json& verdict, const std::string& where);

}  // namespace probe
