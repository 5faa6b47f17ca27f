// mc-demo-app as a process: the error rate and latency it is configured with are what a client
// sees, and its /metrics counts exactly the requests it answered.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "mc/e2e/poll.h"
#include "mc/e2e/process.h"
#include "mc/runtime/http_client.h"
#include "mc/testing/io_thread.h"

namespace mc::e2e {
namespace {

using namespace std::chrono_literals;
using Labels = std::map<std::string, std::string>;
using Env = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// The samples of a Prometheus text exposition (enough of the format for what prometheus-cpp
// writes: no escapes inside label values, no timestamps).
std::vector<Sample> parseMetrics(const std::string& text) {
  std::vector<Sample> samples;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    Sample sample;
    auto brace = line.find('{');
    auto space = line.rfind(' ');
    if (brace != std::string::npos && brace < space) {
      sample.name = line.substr(0, brace);
      std::string labels = line.substr(brace + 1, line.rfind('}') - brace - 1);
      std::istringstream pairs(labels);
      for (std::string pair; std::getline(pairs, pair, ',');) {
        auto eq = pair.find('=');
        sample.labels[pair.substr(0, eq)] = pair.substr(eq + 2, pair.size() - eq - 3);
      }
    } else {
      sample.name = line.substr(0, space);
    }
    sample.value = std::stod(line.substr(space + 1));
    samples.push_back(std::move(sample));
  }
  return samples;
}

// The sum of the samples of `name` whose labels include all of `match`.
double sumOf(const std::vector<Sample>& samples, const std::string& name, const Labels& match) {
  double sum = 0;
  for (const auto& sample : samples) {
    bool matches = sample.name == name;
    for (const auto& [key, value] : match) {
      auto it = sample.labels.find(key);
      matches = matches && it != sample.labels.end() && it->second == value;
    }
    sum += matches ? sample.value : 0;
  }
  return sum;
}

// One mc-demo-app on a free port, read from the first line it prints.
class DemoApp {
 public:
  explicit DemoApp(Env env) : dir_(makeTempDir("mc-demo-app")) {
    process_ = std::make_unique<Process>(
        std::vector<std::string>{MC_DEMO_APP_BINARY, "--listen", "127.0.0.1:0"}, dir_ / "log",
        std::move(env));
    const std::string prefix = "listening on 127.0.0.1:";
    bool listening = pollUntil(
        [&] {
          std::ifstream in(dir_ / "log");
          std::string first;
          if (std::getline(in, first) && first.rfind(prefix, 0) == 0) {
            port_ = static_cast<unsigned short>(std::stoi(first.substr(prefix.size())));
          }
          return port_ != 0 || !process_->running();
        },
        10s, 10ms);
    if (!listening || port_ == 0) {
      throw std::runtime_error("mc-demo-app did not start:\n" + process_->logTail());
    }
  }
  ~DemoApp() {
    process_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }
  std::vector<Sample> metrics() const {
    auto response = http::fetchBlocking(url() + "/metrics");
    if (!response || response->status != 200) {
      ADD_FAILURE() << "GET /metrics failed";
      return {};
    }
    return parseMetrics(response->body);
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Process> process_;
  unsigned short port_ = 0;
};

// Sends `count` GETs of `path` one after another on one keep-alive connection; statuses seen.
std::map<int, int> sendRequests(const DemoApp& app, int count, const std::string& path = "/") {
  test::IoThread io;
  auto client = http::HttpClient::create(io.executor(), app.url()).value();
  std::map<int, int> statuses;
  for (int i = 0; i < count; ++i) {
    http::Request request;
    request.target = path;
    auto response = io.run(client->send(std::move(request)));
    ++statuses[response ? response->status : -1];
  }
  return statuses;
}

TEST(DemoAppTest, AnswersWithTheConfiguredErrorRateAndCountsEveryRequest) {
  DemoApp app(Env{{"ERROR_RATE", "0.2"}});
  constexpr int kRequests = 2000;
  auto statuses = sendRequests(app, kRequests, "/checkout?item=1");
  ASSERT_EQ(statuses[200] + statuses[500], kRequests) << "every request is answered 200 or 500";

  // Each request fails independently with p = 0.2, so the 500 count is Binomial(2000, 0.2): its
  // fraction has standard deviation sqrt(0.2 * 0.8 / 2000) ≈ 0.0089. ±0.05 is 5.6 of them, which
  // a correct app misses about once in 50 million runs, while an app that ignored the rate (0 or
  // 1) or misread it by a quarter (0.15, 0.25) is caught every time.
  double fraction = statuses[500] / static_cast<double>(kRequests);
  EXPECT_NEAR(fraction, 0.2, 0.05);

  // /metrics and /healthz are not counted: only what the app answered as the app.
  ASSERT_EQ(sendRequests(app, 3, "/healthz")[200], 3);
  auto metrics = app.metrics();
  EXPECT_EQ(sumOf(metrics, "http_requests_total", {{"code", "200"}, {"method", "GET"}}),
            statuses[200]);
  EXPECT_EQ(sumOf(metrics, "http_requests_total", {{"code", "500"}}), statuses[500]);
  EXPECT_EQ(sumOf(metrics, "http_request_duration_seconds_count", {}), kRequests);
  EXPECT_EQ(sumOf(metrics, "http_request_duration_seconds_bucket", {{"le", "+Inf"}}), kRequests);
  for (const char* le :
       {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "1.5", "2.5", "5", "10"}) {
    bool found = false;
    for (const auto& sample : metrics) {
      found = found || (sample.name == "http_request_duration_seconds_bucket" &&
                        sample.labels.count("le") != 0 && sample.labels.at("le") == le);
    }
    EXPECT_TRUE(found) << "no bucket le=" << le;
  }
}

TEST(DemoAppTest, ByDefaultEveryRequestSucceedsAndErrorRateOneFailsEach) {
  DemoApp healthy(Env{});
  EXPECT_EQ(sendRequests(healthy, 200)[200], 200);
  EXPECT_EQ(sendRequests(healthy, 1, "/healthz")[200], 1);
  DemoApp broken(Env{{"ERROR_RATE", "1"}});
  EXPECT_EQ(sendRequests(broken, 200)[500], 200);
  EXPECT_EQ(sendRequests(broken, 1, "/healthz")[200], 1) << "health is not the injected error";
  EXPECT_EQ(sumOf(broken.metrics(), "http_requests_total", {{"code", "500"}}), 200);
}

TEST(DemoAppTest, LatencyDelaysEachRequestWithoutHoldingUpTheOthers) {
  DemoApp app(Env{{"LATENCY", "200ms"}});
  constexpr int kClients = 20;
  std::vector<std::chrono::steady_clock::duration> took(kClients);
  std::atomic<int> answered = 0;
  auto started = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back([&, i] {
        auto start = std::chrono::steady_clock::now();
        auto response = http::fetchBlocking(app.url() + "/");
        took[i] = std::chrono::steady_clock::now() - start;
        answered += response && response->status == 200 ? 1 : 0;
      });
    }
  }
  auto all = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(answered, kClients);
  for (auto t : took) {
    EXPECT_GE(t, 200ms) << "a request answered before its latency";
  }
  // Served one after another, 20 requests of 200 ms take at least 4 s; concurrently, about
  // 200 ms. Under 4 s can only mean the timer held up no other request.
  EXPECT_LT(all, kClients * 200ms);

  auto metrics = app.metrics();
  double count = sumOf(metrics, "http_request_duration_seconds_count", {});
  ASSERT_EQ(count, kClients);
  EXPECT_GE(sumOf(metrics, "http_request_duration_seconds_sum", {}) / count, 0.2);
  EXPECT_EQ(sumOf(metrics, "http_request_duration_seconds_bucket", {{"le", "0.1"}}), 0)
      << "no request took under 100 ms";
  EXPECT_EQ(sumOf(metrics, "http_request_duration_seconds_bucket", {{"le", "+Inf"}}), kClients);
}

TEST(DemoAppTest, JitterAddsToTheLatencyNeverTakesFromIt) {
  DemoApp app(Env{{"LATENCY", "100ms"}, {"LATENCY_JITTER", "50ms"}});
  for (int i = 0; i < 5; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto response = http::fetchBlocking(app.url() + "/");
    ASSERT_TRUE(response && response->status == 200);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  }
}

TEST(DemoAppTest, BadEnvironmentOrFlagsExitTwoNamingWhatIsWrong) {
  struct Case {
    std::map<std::string, std::string> env;
    std::vector<std::string> args;
    std::string mentions;
  };
  for (const auto& c : std::vector<Case>{
           {{{"ERROR_RATE", "lots"}}, {}, "ERROR_RATE: \"lots\""},
           {{{"ERROR_RATE", "1.5"}}, {}, "ERROR_RATE: \"1.5\""},
           {{{"ERROR_RATE", "-0.1"}}, {}, "ERROR_RATE"},
           {{{"ERROR_RATE", "0.2x"}}, {}, "ERROR_RATE"},
           {{{"LATENCY", "soon"}}, {}, "LATENCY: \"soon\""},
           {{{"LATENCY", "50"}}, {}, "LATENCY"},
           {{{"LATENCY_JITTER", "-5ms"}}, {}, "LATENCY_JITTER"},
           {{}, {"--listen", "localhost"}, "--listen"},
           {{}, {"--no-such-flag"}, "--no-such-flag"},
       }) {
    auto dir = makeTempDir("mc-demo-app-bad");
    std::vector<std::string> argv{MC_DEMO_APP_BINARY};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    int code = -1;
    {
      Process process(argv, dir / "log", c.env);
      code = process.wait(10s);
    }
    std::ifstream in(dir / "log");
    std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::filesystem::remove_all(dir);
    EXPECT_EQ(code, 2) << c.mentions << ": " << output;
    EXPECT_NE(output.find(c.mentions), std::string::npos) << output;
  }
}

}  // namespace
}  // namespace mc::e2e
