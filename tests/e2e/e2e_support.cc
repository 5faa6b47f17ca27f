#include "e2e_support.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "mc/e2e/poll.h"

namespace mc::e2e {

namespace json = boost::json;

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

CommandResult kubectl(const std::vector<std::string>& args) { return cp().kubectl(args); }

json::value getJson(std::vector<std::string> args) {
  args.insert(args.begin(), "get");
  args.push_back("-o");
  args.push_back("json");
  auto result = kubectl(args);
  if (result.exitCode != 0) {
    return nullptr;
  }
  boost::system::error_code ec;
  auto value = json::parse(result.output, ec);
  return ec ? json::value(nullptr) : value;
}

const json::value* at(const json::value& value, std::initializer_list<std::string_view> path) {
  const json::value* current = &value;
  for (auto key : path) {
    if (current->is_array()) {  // "0", "1", ...: an element
      size_t index = 0;
      auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
      const auto& array = current->as_array();
      if (ec != std::errc() || end != key.data() + key.size() || index >= array.size()) {
        return nullptr;
      }
      current = &array[index];
      continue;
    }
    if (!current->is_object()) {
      return nullptr;
    }
    current = current->as_object().if_contains(key);
    if (current == nullptr) {
      return nullptr;
    }
  }
  return current;
}
std::string text(const json::value& value, std::initializer_list<std::string_view> path) {
  auto* v = at(value, path);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}
int64_t number(const json::value& value, std::initializer_list<std::string_view> path) {
  auto* v = at(value, path);
  return v && v->is_number() ? v->to_number<int64_t>() : -1;
}

std::map<std::string, RsState> replicaSets(const std::string& ns) {
  std::map<std::string, RsState> out;
  auto list = getJson({"rs", "-n", ns, "-l", kHashLabel});
  if (auto* items = at(list, {"items"}); items && items->is_array()) {
    for (const auto& rs : items->as_array()) {
      auto* labels = at(rs, {"metadata", "labels"});
      std::string hash = labels ? text(*labels, {kHashLabel}) : "";
      out[hash] = {text(rs, {"metadata", "name"}), number(rs, {"spec", "replicas"}),
                   std::max<int64_t>(0, number(rs, {"status", "availableReplicas"}))};
    }
  }
  return out;
}

std::map<std::string, int> eventCounts(const std::string& ns, const std::string& rollout) {
  std::map<std::string, int> counts;
  auto list = getJson({"events.v1.events.k8s.io", "-n", ns});
  if (auto* items = at(list, {"items"}); items && items->is_array()) {
    for (const auto& event : items->as_array()) {
      if (text(event, {"regarding", "name"}) == rollout &&
          text(event, {"regarding", "kind"}) == "Rollout") {
        ++counts[text(event, {"reason"})];
      }
    }
  }
  return counts;
}

std::filesystem::path auditLogPath() { return cp().dir() / "logs" / "audit.log"; }
uintmax_t auditLogSize() { return std::filesystem::file_size(auditLogPath()); }
std::vector<json::value> auditEntriesSince(uintmax_t offset) {
  std::vector<json::value> entries;
  std::ifstream in(auditLogPath());
  in.seekg(static_cast<std::streamoff>(offset));
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    auto entry = json::parse(line, ec);
    if (!ec) {  // else a line still being written: a later read has it whole
      entries.push_back(std::move(entry));
    }
  }
  return entries;
}

void installCrdsAndChartRbac(const std::filesystem::path& dir,
                             const std::vector<std::string>& chartValues) {
  auto crds = kubectl({"apply", "-f", (sourceDir() / "crds").string()});
  ASSERT_EQ(crds.exitCode, 0) << crds.output;
  for (const char* crd :
       {"rollouts", "analysistemplates", "clusteranalysistemplates", "analysisruns", "auditrecords",
        "auditchains", "verificationpolicies", "clusterverificationpolicies"}) {
    ASSERT_EQ(kubectl({"wait", "--for=condition=Established",
                       fmt::format("crd/{}.mc.maestro.dev", crd), "--timeout=60s"})
                  .exitCode,
              0)
        << crd;
  }
  std::vector<std::string> render{(sourceDir() / "tests/chart/chart_test.sh").string(),
                                  "--print-rbac", dir.string(), "--namespace", kOperatorNamespace};
  for (const auto& value : chartValues) {
    render.insert(render.end(), {"--set", value});
  }
  auto rbac = run(render);
  ASSERT_EQ(rbac.exitCode, 0) << rbac.output;
  auto applied = kubectl({"apply", "-f", (dir / "rbac.yaml").string()});
  ASSERT_EQ(applied.exitCode, 0) << applied.output;
}

std::string tokenKubeconfig(const std::filesystem::path& dir, const std::string& ns,
                            const std::string& serviceAccount, const std::string& name,
                            std::string* tokenOut) {
  auto token = kubectl({"-n", ns, "create", "token", serviceAccount, "--duration=2h"});
  EXPECT_EQ(token.exitCode, 0) << token.output;
  if (token.exitCode != 0) {
    return "";
  }
  std::string tokenText = token.output.substr(0, token.output.find('\n'));
  auto kubeconfig = dir / (name + ".kubeconfig");
  writeFile(kubeconfig, fmt::format(R"(apiVersion: v1
kind: Config
clusters: [{{name: local, cluster: {{server: "{}", certificate-authority: "{}"}}}}]
users: [{{name: {}, user: {{token: "{}"}}}}]
contexts: [{{name: {}, context: {{cluster: local, user: {}, namespace: {}}}}}]
current-context: {}
)",
                                    cp().apiserverUrl(), cp().caFile().string(), serviceAccount,
                                    tokenText, serviceAccount, serviceAccount, ns, serviceAccount));
  if (tokenOut != nullptr) {
    *tokenOut = tokenText;
  }
  return kubeconfig.string();
}

OperatorCredential operatorCredential(const std::filesystem::path& dir, const std::string& name) {
  std::string tokenText;
  auto kubeconfig = tokenKubeconfig(dir, kOperatorNamespace, "mc", name, &tokenText);
  if (kubeconfig.empty()) {
    return {};
  }
  auto reviewFile = dir / (name + "-review.json");
  writeFile(reviewFile,
            fmt::format(R"({{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",)"
                        R"("spec":{{"token":"{}"}}}})",
                        tokenText));
  auto reviewed = kubectl({"create", "-o", "json", "-f", reviewFile.string()});
  EXPECT_EQ(reviewed.exitCode, 0) << reviewed.output;
  boost::system::error_code ec;
  auto review = json::parse(reviewed.output, ec);
  auto* ids =
      ec ? nullptr
         : at(review, {"status", "user", "extra", "authentication.kubernetes.io/credential-id"});
  EXPECT_TRUE(ids != nullptr && ids->is_array() && ids->as_array().size() == 1 &&
              ids->as_array()[0].is_string())
      << "the apiserver gives ServiceAccount tokens no credential id: " << reviewed.output;
  std::string id = ids != nullptr && ids->is_array() && !ids->as_array().empty() &&
                           ids->as_array()[0].is_string()
                       ? std::string(ids->as_array()[0].as_string())
                       : "";
  return {kubeconfig, id};
}

std::string rolloutYaml(const std::string& image, const std::string& canary, int replicas,
                        const std::string& moreSpec) {
  return fmt::format(R"(apiVersion: mc.maestro.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: {}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: {}
{}  strategy:
    canary: {}
)",
                     replicas, image, moreSpec, canary);
}

bool waitForPhase(const std::string& ns, const std::string& phase,
                  std::chrono::milliseconds timeout) {
  return pollUntil(
      [&] {
        auto r = getJson({"mcro", "web", "-n", ns});
        return text(r, {"status", "phase"}) == phase &&
               number(r, {"status", "observedGeneration"}) == number(r, {"metadata", "generation"});
      },
      timeout, std::chrono::milliseconds(250));
}

void applyIn(const std::filesystem::path& dir, const std::string& ns, const std::string& yaml) {
  static int applies = 0;
  auto file = dir / fmt::format("apply-{}.yaml", applies++);
  writeFile(file, yaml);
  auto result = kubectl({"apply", "-n", ns, "-f", file.string()});
  EXPECT_EQ(result.exitCode, 0) << result.output;
}

std::unique_ptr<Process> startOperator(const std::filesystem::path& dir,
                                       const std::string& kubeconfig,
                                       const std::vector<std::string>& namespaces,
                                       const std::vector<std::string>& extraArgs) {
  std::vector<std::string> args = {MC_OPERATOR_BINARY,
                                   "--kubeconfig",
                                   kubeconfig,
                                   "--metrics-bind-address=127.0.0.1:0",
                                   "--health-probe-bind-address=127.0.0.1:0",
                                   "--log-format=text",
                                   "--scale-down-delay=2s"};
  for (const auto& ns : namespaces) {
    auto created = kubectl({"create", "namespace", ns});
    EXPECT_EQ(created.exitCode, 0) << created.output;
    if (created.exitCode != 0) {
      return nullptr;
    }
    args.push_back("--namespace=" + ns);
  }
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  return std::make_unique<Process>(args, dir / "mc-operator.log");
}

}  // namespace mc::e2e
