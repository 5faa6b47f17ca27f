// Reading a metric's provider.prometheus block: a query, an alert expression with its guard,
// or one of the built-ins, each field checked and named when it is wrong.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>
#include <cmath>

#include "mc/common/duration.h"
#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "prometheus.h"

namespace mc::analysis::prometheus {
namespace {

namespace json = boost::json;

// Prometheus' metric names may hold ':'; label names may not.
bool isName(std::string_view text, bool metric) {
  if (text.empty() || std::isdigit(static_cast<unsigned char>(text[0]))) {
    return false;
  }
  for (unsigned char c : text) {
    if (!std::isalnum(c) && c != '_' && !(metric && c == ':')) {
      return false;
    }
  }
  return true;
}

// The fields of one block, each checked as it is read; the first fault is kept.
class BlockReader {
 public:
  BlockReader(const json::object& block, std::string path)
      : block_(block), path_(std::move(path)) {}

  std::string field(std::string_view key) const { return fmt::format("{}.{}", path_, key); }

  std::string text(std::string_view key, std::string fallback) {
    const auto* value = block_.if_contains(key);
    if (value == nullptr) {
      return fallback;
    }
    if (!value->is_string()) {
      fail(key, "expected a string");
      return fallback;
    }
    return std::string(value->as_string());
  }

  std::string name(std::string_view key, std::string fallback, bool metric) {
    std::string out = text(key, std::move(fallback));
    if (!isName(out, metric)) {
      fail(key,
           fmt::format("\"{}\" is not a Prometheus {} name", out, metric ? "metric" : "label"));
    }
    return out;
  }

  std::optional<double> number(std::string_view key) {
    const auto* value = block_.if_contains(key);
    if (value == nullptr) {
      return std::nullopt;
    }
    if (!value->is_number()) {
      fail(key, "expected a number");
      return std::nullopt;
    }
    return value->to_number<double>();
  }

  std::optional<bool> flag(std::string_view key) {
    const auto* value = block_.if_contains(key);
    if (value == nullptr) {
      return std::nullopt;
    }
    if (!value->is_bool()) {
      fail(key, "expected true or false");
      return std::nullopt;
    }
    return value->as_bool();
  }

  Seconds duration(std::string_view key, std::string_view text, Seconds fallback) {
    if (text.empty()) {
      return fallback;
    }
    auto parsed = parseDuration(text);
    if (!parsed || *parsed < std::chrono::seconds(1)) {
      fail(key, fmt::format("\"{}\" is not a duration of a second or more (1m, 5m, 1h)", text));
      return fallback;
    }
    return std::chrono::duration_cast<Seconds>(*parsed);
  }

  Seconds duration(std::string_view key, Seconds fallback) {
    return duration(key, text(key, ""), fallback);
  }

  void fail(std::string_view key, std::string message) {
    if (!fault) {
      fault = fieldError(field(key), std::move(message));
    }
  }

  std::optional<Error> fault;

 private:
  const json::object& block_;
  std::string path_;
};

// The canary's selector of a built-in's block, from the run's canary-hash argument.
CanarySelector canaryOf(BlockReader& r, const RunScope& run, const std::string& path) {
  CanarySelector canary;
  canary.hashLabel = r.name("podTemplateHashLabel", canary.hashLabel, false);
  canary.matchers = r.text("matchers", "");
  canary.hash = run.arg("canary-hash").value_or("");
  if (canary.hash.empty() && !r.fault) {
    r.fault = fieldError(path,
                         "selects the canary's series by the run's canary-hash argument, "
                         "and this run has none (MC gives it to the runs of a Rollout)");
  }
  return canary;
}

ErrorRate readErrorRate(BlockReader& r, const RunScope& run, const std::string& path) {
  ErrorRate check;
  check.metric = r.name("metric", check.metric, true);
  check.codeLabel = r.name("codeLabel", check.codeLabel, false);
  check.window = r.duration("window", check.window);
  check.canary = canaryOf(r, run, path);
  return check;
}

Latency readLatency(BlockReader& r, const RunScope& run, const std::string& path) {
  Latency check;
  check.metric = r.name("metric", check.metric, true);
  check.window = r.duration("window", check.window);
  check.quantile = r.number("quantile").value_or(check.quantile);
  if (!(check.quantile > 0 && check.quantile < 1)) {
    r.fail("quantile", fmt::format("{} is not above 0 and below 1 (0.95 is p95)", check.quantile));
    check.quantile = 0.95;
  }
  auto minRequests = r.number("minRequests");
  check.minRequests =
      minRequests ? static_cast<int32_t>(*minRequests) : defaultMinRequests(check.quantile);
  if (minRequests && !(*minRequests >= 1 && *minRequests == std::floor(*minRequests))) {
    r.fail("minRequests", "expected a whole number of at least 1");
  }
  check.canary = canaryOf(r, run, path);
  return check;
}

SloBurn readSloBurn(BlockReader& r, const json::object& block, const RunScope& run,
                    const std::string& path) {
  SloBurn check;
  check.metric = r.name("metric", check.metric, true);
  check.codeLabel = r.name("codeLabel", check.codeLabel, false);
  auto objective = r.number("objective");
  if (!objective) {
    r.fail("objective", "missing: the availability objective in percent, e.g. 99.9");
  } else if (!(*objective > 0 && *objective < 100)) {
    r.fail("objective", fmt::format("{} is not a percentage above 0 and below 100", *objective));
  } else {
    check.objective = *objective;
  }
  const auto* windows = block.if_contains("windows");
  std::string preset = r.text("preset", "");
  if (windows != nullptr && !preset.empty()) {
    r.fail("windows", "give a preset or windows, not both");
  } else if (windows != nullptr) {
    if (!windows->is_array() || windows->as_array().empty()) {
      r.fail("windows", "expected a list of {long, short, maxBurnRate}");
    } else {
      const auto& list = windows->as_array();
      for (size_t i = 0; i < list.size() && !r.fault; ++i) {
        std::string at = r.field(fmt::format("windows[{}]", i));
        if (!list[i].is_object()) {
          r.fault = fieldError(at, "expected {long, short, maxBurnRate}");
          break;
        }
        BlockReader pair(list[i].as_object(), at);
        BurnWindows w;
        w.longWindow = pair.duration("long", Seconds(0));
        w.shortWindow = pair.duration("short", Seconds(0));
        w.maxBurnRate = pair.number("maxBurnRate").value_or(0);
        if (!pair.fault && (w.longWindow.count() == 0 || w.shortWindow.count() == 0)) {
          pair.fail(w.longWindow.count() == 0 ? "long" : "short", "missing");
        } else if (!pair.fault && w.shortWindow >= w.longWindow) {
          pair.fail("short", "must be shorter than long");
        } else if (!pair.fault && !(w.maxBurnRate > 0)) {
          pair.fail("maxBurnRate", "expected a burn rate above 0, e.g. 14.4");
        }
        r.fault = pair.fault;
        check.pairs.push_back(w);
      }
    }
  } else {
    check.pairs = burnPreset(preset.empty() ? "workbook" : preset);
    if (check.pairs.empty()) {
      r.fail("preset", fmt::format("\"{}\" is not a preset: workbook or runbook", preset));
    }
  }
  check.canary = canaryOf(r, run, path);
  return check;
}

}  // namespace

Result<Config> parseConfig(const json::object& block, const RunScope& run,
                           const std::string& path) {
  BlockReader r(block, path);
  Config config;
  config.address = r.text("address", "");
  if (config.address.empty()) {
    r.fail("address", "missing");
  }
  const char* kinds[] = {"query", "errorRate", "latency", "sloBurn"};
  std::vector<std::string_view> given;
  for (const char* kind : kinds) {
    if (block.contains(kind)) {
      given.emplace_back(kind);
    }
  }
  if (given.empty()) {
    r.fail("query", "missing: give a query, or a built-in (errorRate, latency, sloBurn)");
  } else if (given.size() > 1) {
    r.fault = fieldError(path, fmt::format("has {} and {}: give one of query, errorRate, "
                                           "latency, sloBurn",
                                           given[0], given[1]));
  }
  const bool alert = r.flag("failWhenPresent").value_or(false);
  std::string guard = r.text("guard", "");
  if (!r.fault && given[0] == "query") {
    std::string query = r.text("query", "");
    if (query.find_first_not_of(" \t\n") == std::string::npos) {
      r.fail("query", "missing");
    } else if (alert && guard.empty()) {
      r.fail("guard",
             "missing: failWhenPresent passes an empty result only when a guard (e.g. "
             "the canary's request rate) reads above 0");
    }
    config.check = alert ? Check(Alert{query, guard}) : Check(Query{query});
  } else if (!r.fault) {
    std::string at = r.field(given[0]);
    const auto* inner = block.at(given[0]).if_object();
    if (inner == nullptr) {
      return fieldError(at, "expected an object");
    }
    if (alert) {
      r.fail("failWhenPresent", "goes with a query (the alert expression), not a built-in");
    }
    BlockReader b(*inner, at);
    if (given[0] == "errorRate") {
      config.check = readErrorRate(b, run, at);
    } else if (given[0] == "latency") {
      config.check = readLatency(b, run, at);
    } else {
      config.check = readSloBurn(b, *inner, run, at);
    }
    if (!r.fault) {
      r.fault = b.fault;
    }
  }
  if (!guard.empty() && !alert && !r.fault) {
    r.fail("guard", "goes with failWhenPresent: true");
  }
  if (auto timeout = r.text("timeout", ""); !timeout.empty()) {
    auto parsed = parseDuration(timeout);
    if (!parsed || parsed->count() <= 0) {
      r.fail("timeout", fmt::format("\"{}\" is not a duration", timeout));
    } else {
      config.timeout = *parsed;
    }
  }
  config.secretName = stringAt(objectAt(block, "secretRef"), "name");
  if (auto started = run.arg("canary-started-at")) {
    config.canaryStartedAt = parseTime(*started);
  }
  if (r.fault) {
    return *r.fault;
  }
  return config;
}

}  // namespace mc::analysis::prometheus
