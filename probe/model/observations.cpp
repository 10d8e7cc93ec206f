#include "model/observations.hpp"

namespace probe {

std::string_view to_string(Status status) {
  switch (status) {
  case Status::accessible: return "accessible";
  case Status::blocked: return "blocked";
  case Status::anomaly: return "anomaly";
  case Status::down: return "down";
  case Status::inconclusive: return "inconclusive";
  case Status::restricted: return "restricted";
  }
  return "inconclusive";
}

}  // namespace probe
