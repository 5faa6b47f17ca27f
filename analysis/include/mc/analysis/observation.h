#pragma once

#include <string>

// What a metric provider saw, before any judgement: a value, no usable answer (Inconclusive:
// empty, several series), or a failure to ask (Error: unreachable, timeout, a bad answer).
namespace mc::analysis {

struct Observation {
  enum class Kind { Value, Inconclusive, Error };
  Kind kind = Kind::Error;
  double value = 0;     // for Kind::Value; may be NaN or +-Inf
  std::string message;  // why, for Inconclusive and Error; context for a Value

  static Observation of(double value, std::string message = {}) {
    return {Kind::Value, value, std::move(message)};
  }
  static Observation inconclusive(std::string message) {
    return {Kind::Inconclusive, 0, std::move(message)};
  }
  static Observation error(std::string message) { return {Kind::Error, 0, std::move(message)}; }
};

}  // namespace mc::analysis
