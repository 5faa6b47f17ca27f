// Parsing Prometheus's answers to an instant query. Every way the answer can be wrong has its
// own message, because an SRE reads it in the run's status while the canary waits.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "mc/common/json.h"
#include "prometheus.h"

namespace mc::analysis::prometheus {
namespace {

namespace json = boost::json;

// A sample's value as Prometheus writes it: a string ("0.25", "NaN", "+Inf", "-Inf").
std::optional<double> sampleValue(const json::value& sample) {
  const auto* pair = sample.if_array();
  if (pair == nullptr || pair->size() != 2 || !(*pair)[1].is_string()) {
    return std::nullopt;
  }
  std::string_view text = (*pair)[1].as_string();
  if (text == "NaN") return std::nan("");
  if (text == "+Inf" || text == "Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

Error malformed(std::string_view what) {
  return makeError(ErrorKind::Invalid, fmt::format("not the Prometheus API's answer: {}", what));
}

// {a="b", c="d"}, as PromQL writes a series.
std::string labelsOf(const json::object& metric) {
  std::string out;
  for (const auto& [name, value] : metric) {
    if (!out.empty()) {
      out += ", ";
    }
    out += fmt::format("{}=\"{}\"", std::string_view(name),
                       value.is_string() ? std::string_view(value.as_string()) : "");
  }
  return "{" + out + "}";
}

// A vector's or matrix's series, each with its (last) sample; a matrix series without
// samples has no value and is left out.
Result<std::vector<Sample>> seriesOf(const json::array& result, bool matrix) {
  std::vector<Sample> samples;
  for (const auto& entry : result) {
    const auto* series = entry.if_object();
    if (series == nullptr) {
      return malformed("a series is not an object");
    }
    const json::value* sample = nullptr;
    if (matrix) {
      const auto* values = arrayAt(*series, "values");
      if (values == nullptr) {
        return malformed("a matrix series without values");
      }
      if (values->empty()) {
        continue;
      }
      sample = &values->back();
    } else {
      sample = series->if_contains("value");
      if (sample == nullptr) {
        return malformed("a vector series without a value");
      }
    }
    auto value = sampleValue(*sample);
    if (!value) {
      return malformed("a sample that is not [time, \"number\"]");
    }
    const auto* metric = objectAt(*series, "metric");
    samples.push_back({metric ? labelsOf(*metric) : "{}", *value});
  }
  return samples;
}

}  // namespace

Result<std::vector<Sample>> parseSamples(const http::Response& response) {
  boost::system::error_code ec;
  json::value body = json::parse(response.body, ec);
  const json::object* object = ec ? nullptr : body.if_object();
  if (object != nullptr && stringAt(*object, "status") == "error") {
    return makeError(ErrorKind::Invalid,
                     fmt::format("Prometheus answered HTTP {}: {}: {}", response.status,
                                 stringAt(*object, "errorType"), stringAt(*object, "error")));
  }
  if (response.status != 200) {
    std::string_view excerpt(response.body);
    return makeError(ErrorKind::Transient, fmt::format("Prometheus answered HTTP {}: {}",
                                                       response.status, excerpt.substr(0, 200)));
  }
  if (object == nullptr) {
    return malformed(ec ? "the body is not JSON" : "the body is not a JSON object");
  }
  if (stringAt(*object, "status") != "success") {
    return malformed("status is neither success nor error");
  }
  const auto* data = objectAt(*object, "data");
  if (data == nullptr) {
    return malformed("no data");
  }
  const std::string type = stringAt(*data, "resultType");
  const auto* result = data->if_contains("result");
  if (result == nullptr) {
    return malformed("no data.result");
  }
  if (type == "scalar") {
    auto value = sampleValue(*result);
    if (!value) {
      return malformed("a scalar that is not [time, \"number\"]");
    }
    return std::vector<Sample>{{"", *value}};
  }
  if (type == "vector" || type == "matrix") {
    if (!result->is_array()) {
      return malformed("data.result is not a list");
    }
    return seriesOf(result->as_array(), type == "matrix");
  }
  if (type == "string") {
    return makeError(ErrorKind::Invalid, "the query returns a string, not a number");
  }
  return malformed(fmt::format("unknown resultType \"{}\"", type));
}

Observation oneValue(const Result<std::vector<Sample>>& samples) {
  if (!samples) {
    return Observation::error(samples.error().message);
  }
  if (samples->empty()) {
    return Observation::inconclusive("empty result: no series with a sample (no data)");
  }
  if (samples->size() > 1) {
    return Observation::inconclusive(fmt::format(
        "{} series where one was expected: aggregate the query (sum, max, ...)", samples->size()));
  }
  return Observation::of(samples->front().value);
}

Observation parseResponse(const http::Response& response) {
  return oneValue(parseSamples(response));
}

}  // namespace mc::analysis::prometheus
