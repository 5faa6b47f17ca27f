// The traffic routers (reconcilers/routers/*) against the real apiserver, with the Gateway API
// and Istio CRDs installed: what each writes to its route object, what it reads back, what it
// refuses, and that it keeps what the user wrote.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <sstream>

#include "mc/e2e/controlplane.h"
#include "mc/e2e/process.h"
#include "mc/reconcilers/traffic_router.h"
#include "mc/runtime/kube_client.h"
#include "mc/testing/io_thread.h"
#include "mc/testing/objects.h"
#include "routers/gateway_api/gateway_api.h"
#include "routers/istio/istio.h"
#include "routers/nginx/nginx.h"
#include "routers/replica_ratio/replica_ratio.h"

namespace mc::reconcilers {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using e2e::ControlPlaneEnvironment;

const kube::ResourceType kHttpRoutes{"gateway.networking.k8s.io", "v1", "httproutes"};
const kube::ResourceType kIngresses{"networking.k8s.io", "v1", "ingresses"};
const kube::ResourceType kVirtualServices{"networking.istio.io", "v1", "virtualservices"};
const std::string kRolloutUid = "5f1c0a4e-7d2b-4c1e-9a3f-0b6d8e2c4a11";  // no such Rollout

// The folder e2e/tools/build.sh keeps the route CRD manifests in (its last line of output).
std::filesystem::path routeCrdDir() {
  auto tools =
      e2e::run({(e2e::sourceDir() / "e2e/tools/build.sh").string(), "--check", "routecrds"});
  EXPECT_EQ(tools.exitCode, 0) << tools.output;
  std::istringstream lines(tools.output);
  std::string line;
  std::string last;
  while (std::getline(lines, line)) {
    if (!line.empty()) {
      last = line;
    }
  }
  return std::filesystem::path(last) / "crds";
}

json::object service(const std::string& name) {
  return json::parse(fmt::format(R"({{"apiVersion": "v1", "kind": "Service",
      "metadata": {{"name": "{}"}},
      "spec": {{"selector": {{"app": "web"}}, "ports": [{{"port": 80}}]}}}})",
                                 name))
      .as_object();
}

// A trafficRouting block for one router kind: {"<kind>": {"<key>": "<route>"}}.
json::object routing(const char* kind, const char* key, const char* route) {
  return {{kind, {{key, route}}}};
}

// A Rollout "web" splitting traffic between web-stable and web-canary with `routing`.
struct Routed {
  RouterTarget target;
  json::object routing;
};

Routed targetFor(const std::string& ns, json::object routing) {
  return {RouterTarget{ns, "web", kRolloutUid, "web-stable", "web-canary"}, std::move(routing)};
}

int64_t weightAt(const json::value& ref) { return ref.at("weight").to_number<int64_t>(); }

std::string labelOf(const json::object& object, const std::string& key) {
  const auto* labels = object.at("metadata").as_object().if_contains("labels");
  const auto* value = labels ? labels->as_object().if_contains(key) : nullptr;
  return value ? std::string(value->as_string()) : std::string();
}

class RoutersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto& cp = ControlPlaneEnvironment::get();
    auto crds = routeCrdDir();
    ASSERT_TRUE(std::filesystem::exists(crds / "istio.yaml")) << crds;
    // Server-side: istio.yaml's CRDs are too large for the last-applied annotation.
    auto applied = cp.kubectl({"apply", "--server-side", "-f", crds.string()}, 180s);
    ASSERT_EQ(applied.exitCode, 0) << applied.output;
    auto established = cp.kubectl(
        {"wait", "--for=condition=Established", "crd/httproutes.gateway.networking.k8s.io",
         "crd/virtualservices.networking.istio.io", "--timeout=120s"},
        150s);
    ASSERT_EQ(established.exitCode, 0) << established.output;
  }

  void SetUp() override {
    auto config = kube::loadKubeconfig({ControlPlaneEnvironment::get().kubeconfig()});
    ASSERT_TRUE(config) << config.error().describe();
    auto client = kube::KubeClient::create(io_.executor(), *config);
    ASSERT_TRUE(client) << client.error().describe();
    client_ = std::move(*client);
  }

  // A namespace with the Services web-stable and web-canary.
  void makeNamespace(const std::string& ns) {
    auto created =
        io_.run(client_->create(kube::resources::kNamespaces, "", test::namespaceObject(ns)));
    ASSERT_TRUE(created) << created.error().describe();
    for (const auto* name : {"web-stable", "web-canary"}) {
      auto made = io_.run(client_->create(kube::resources::kServices, ns, service(name)));
      ASSERT_TRUE(made) << made.error().describe();
    }
  }

  void create(const kube::ResourceType& type, const std::string& ns, const std::string& text) {
    auto created = io_.run(client_->create(type, ns, json::parse(text).as_object()));
    ASSERT_TRUE(created) << created.error().describe();
  }

  json::object get(const kube::ResourceType& type, const std::string& ns, const std::string& name) {
    auto fetched = io_.run(client_->get(type, ns, name));
    EXPECT_TRUE(fetched) << fetched.error().describe();
    return fetched ? *fetched : json::object();
  }

  // A user's edit the router must not undo.
  void addLabel(const kube::ResourceType& type, const std::string& ns, const std::string& name) {
    auto patched = io_.run(client_->patch(type, ns, name, kube::PatchType::Merge,
                                          R"({"metadata":{"labels":{"team":"payments"}}})"));
    ASSERT_TRUE(patched) << patched.error().describe();
  }

  void expectInvalid(const Result<void>& result, const std::string& field,
                     const std::string& mentions) {
    ASSERT_FALSE(result) << "expected Invalid mentioning " << mentions;
    EXPECT_EQ(result.error().kind, ErrorKind::Invalid) << result.error().describe();
    EXPECT_EQ(result.error().field, field) << "the field, apart from the message";
    EXPECT_NE(result.error().message.find(mentions), std::string::npos) << result.error().message;
  }

  // Each call builds the router afresh, as each reconcile does, so it reads the route anew.
  TrafficRouterPtr router(const Routed& routed) {
    auto made = makeRouter(*client_, routed.target, routed.routing);
    EXPECT_TRUE(made) << made.error().describe();
    return made ? std::move(*made) : nullptr;
  }
  Result<void> validate(const Routed& routed) { return io_.run(router(routed)->validate()); }
  Result<void> setWeight(const Routed& routed, int32_t weight) {
    return io_.run(router(routed)->setWeight(weight));
  }
  // "true", "false" or the error.
  std::string verified(const Routed& routed, int32_t weight) {
    auto result = io_.run(router(routed)->verifyWeight(weight));
    return result ? (*result ? "true" : "false") : result.error().describe();
  }
  Result<void> reset(const Routed& routed) { return io_.run(router(routed)->reset()); }

  test::IoThread io_;
  kube::KubeClientPtr client_;
};

TEST_F(RoutersTest, MakeRouterPicksTheKindTheRoutingNames) {
  std::set<std::string> kinds;
  for (const auto& registration : routerRegistry()) {
    kinds.insert(registration.kind);
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"gatewayAPI", "nginx", "istio"}));

  auto make = [&](json::object routing) {
    auto made = makeRouter(*client_, targetFor("default", {}).target, std::move(routing));
    EXPECT_TRUE(made) << made.error().describe();
    return made ? std::move(*made) : nullptr;
  };
  auto gateway = make(routing("gatewayAPI", "httpRoute", "web"));
  EXPECT_NE(dynamic_cast<GatewayApiRouter*>(gateway.get()), nullptr);
  EXPECT_TRUE(gateway->shapesTraffic());
  auto nginx = make(routing("nginx", "stableIngress", "web"));
  EXPECT_NE(dynamic_cast<NginxRouter*>(nginx.get()), nullptr);
  EXPECT_TRUE(nginx->shapesTraffic());
  auto istio = make(routing("istio", "virtualService", "web"));
  EXPECT_NE(dynamic_cast<IstioRouter*>(istio.get()), nullptr);
  EXPECT_TRUE(istio->shapesTraffic());

  auto byDefault = make({});
  EXPECT_NE(dynamic_cast<ReplicaRatioRouter*>(byDefault.get()), nullptr);
  EXPECT_FALSE(byDefault->shapesTraffic());
  auto none = makeRouter(*client_, targetFor("default", {}).target, std::nullopt);
  ASSERT_TRUE(none);
  EXPECT_NE(dynamic_cast<ReplicaRatioRouter*>(none->get()), nullptr);

  // Each router reads its own block and names the field it refuses.
  auto unknown = makeRouter(*client_, targetFor("default", {}).target,
                            json::object{{"linkerd", {{"route", "web"}}}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().field, "spec.strategy.canary.trafficRouting.linkerd");
  auto empty = makeRouter(*client_, targetFor("default", {}).target,
                          json::object{{"gatewayAPI", json::object{}}});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().field, "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute");
  RouterTarget oneService{"default", "web", kRolloutUid, "web", "web"};
  auto same = makeRouter(*client_, oneService, routing("istio", "virtualService", "web"));
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().field, "spec.strategy.canary.canaryService");
}

TEST_F(RoutersTest, CanaryIngressNameFitsAnObjectName) {
  EXPECT_EQ(canaryIngressName("web", "checkout"), "web-checkout-canary");
  std::string longIngress(200, 'i');
  std::string longRollout(60, 'r');
  auto cut = canaryIngressName(longIngress, longRollout);
  EXPECT_EQ(cut.size(), 253u);
  EXPECT_TRUE(cut.starts_with(longIngress)) << cut;
  EXPECT_TRUE(cut.ends_with("-canary")) << cut;
  EXPECT_NE(cut, canaryIngressName(longIngress, longRollout + "x"));
  // A cut that lands on a dot or dash still gives a valid name (labels end in a letter or digit).
  auto dotted = canaryIngressName(std::string(236, 'a') + ".b", longRollout);
  EXPECT_EQ(dotted.find(".-"), std::string::npos) << dotted;
  EXPECT_LE(dotted.size(), 253u);
}

TEST_F(RoutersTest, GatewayApiSplitsTheHttpRoute) {
  const std::string ns = "router-gateway";
  makeNamespace(ns);
  create(kHttpRoutes, ns, R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    "metadata": {"name": "web"},
    "spec": {
      "parentRefs": [{"name": "public"}],
      "hostnames": ["web.example.com"],
      "rules": [
        {"backendRefs": [{"name": "web-stable", "port": 80}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
         "backendRefs": [{"name": "admin", "port": 8080}]}
      ]}})");
  auto target = targetFor(ns, routing("gatewayAPI", "httpRoute", "web"));

  ASSERT_TRUE(validate(target)) << validate(target).error().describe();
  auto set = setWeight(target, 30);
  ASSERT_TRUE(set) << set.error().describe();
  auto route = get(kHttpRoutes, ns, "web");
  const auto& rules = route.at("spec").at("rules").as_array();
  const auto& refs = rules.at(0).at("backendRefs").as_array();
  ASSERT_EQ(refs.size(), 2u) << json::serialize(refs);
  EXPECT_EQ(refs.at(0).at("name"), "web-stable");
  EXPECT_EQ(weightAt(refs.at(0)), 70);
  EXPECT_EQ(refs.at(1).at("name"), "web-canary");
  EXPECT_EQ(weightAt(refs.at(1)), 30);
  EXPECT_EQ(refs.at(1).at("port").to_number<int64_t>(), 80) << "the stable ref's port";
  const auto& admin = rules.at(1).at("backendRefs").as_array();
  ASSERT_EQ(admin.size(), 1u) << "a rule without the stable Service is not touched";
  EXPECT_EQ(admin.at(0).at("name"), "admin");
  EXPECT_EQ(weightAt(admin.at(0)), 1) << "the API's default, as it was";

  EXPECT_EQ(verified(target, 30), "true");
  EXPECT_EQ(verified(target, 60), "false");

  addLabel(kHttpRoutes, ns, "web");
  ASSERT_TRUE(setWeight(target, 100));
  route = get(kHttpRoutes, ns, "web");
  EXPECT_EQ(labelOf(route, "team"), "payments") << "the user's edit survives";
  const auto& full = route.at("spec").at("rules").at(0).at("backendRefs").as_array();
  EXPECT_EQ(weightAt(full.at(0)), 0);
  EXPECT_EQ(weightAt(full.at(1)), 100);
  EXPECT_EQ(verified(target, 100), "true");

  ASSERT_TRUE(reset(target));
  route = get(kHttpRoutes, ns, "web");
  const auto& back = route.at("spec").at("rules").at(0).at("backendRefs").as_array();
  ASSERT_EQ(back.size(), 2u) << "the canary ref stays, at weight 0";
  EXPECT_EQ(weightAt(back.at(0)), 100);
  EXPECT_EQ(weightAt(back.at(1)), 0);
  EXPECT_EQ(verified(target, 0), "true");
  // Already right: no write.
  ASSERT_TRUE(reset(target));
  EXPECT_EQ(kube::resourceVersionOf(get(kHttpRoutes, ns, "web")), kube::resourceVersionOf(route));

  auto missing = targetFor(ns, routing("gatewayAPI", "httpRoute", "nope"));
  expectInvalid(validate(missing), "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute",
                "HTTPRoute \"nope\" not found");
  expectInvalid(setWeight(missing, 10), "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute",
                "not found");

  create(kHttpRoutes, ns, R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    "metadata": {"name": "elsewhere"},
    "spec": {"parentRefs": [{"name": "public"}],
             "rules": [{"backendRefs": [{"name": "admin", "port": 8080}]}]}})");
  expectInvalid(validate(targetFor(ns, routing("gatewayAPI", "httpRoute", "elsewhere"))),
                "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute",
                "stable Service \"web-stable\"");
}

TEST_F(RoutersTest, NginxOwnsACanaryIngress) {
  const std::string ns = "router-nginx";
  makeNamespace(ns);
  create(kIngresses, ns, R"({
    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
    "metadata": {"name": "web", "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
    "spec": {
      "ingressClassName": "nginx",
      "rules": [{"host": "web.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix",
         "backend": {"service": {"name": "web-stable", "port": {"number": 80}}}},
        {"path": "/static", "pathType": "Prefix",
         "backend": {"service": {"name": "static", "port": {"number": 80}}}}]}}]}})");
  auto target = targetFor(ns, routing("nginx", "stableIngress", "web"));
  const std::string canaryName = "web-web-canary";

  ASSERT_TRUE(validate(target)) << validate(target).error().describe();
  EXPECT_EQ(verified(target, 0), "true") << "no canary Ingress: 0";
  EXPECT_EQ(verified(target, 30), "false");

  auto set = setWeight(target, 30);
  ASSERT_TRUE(set) << set.error().describe();
  // Right away: the owner does not exist, so the garbage collector may remove it later.
  auto canary = get(kIngresses, ns, canaryName);
  ASSERT_FALSE(canary.empty());
  const auto& metadata = canary.at("metadata").as_object();
  EXPECT_EQ(metadata.at("annotations").at("nginx.ingress.kubernetes.io/canary"), "true");
  EXPECT_EQ(metadata.at("annotations").at("nginx.ingress.kubernetes.io/canary-weight"), "30");
  EXPECT_FALSE(
      metadata.at("annotations").as_object().contains("nginx.ingress.kubernetes.io/rewrite-target"))
      << "only the spec is copied";
  EXPECT_EQ(labelOf(canary, "mc.maestro.dev/rollout"), "web");
  const auto& owners = metadata.at("ownerReferences").as_array();
  ASSERT_EQ(owners.size(), 1u);
  EXPECT_EQ(owners.at(0).at("apiVersion"), "mc.maestro.dev/v1alpha1");
  EXPECT_EQ(owners.at(0).at("kind"), "Rollout");
  EXPECT_EQ(owners.at(0).at("name"), "web");
  EXPECT_EQ(owners.at(0).at("uid"), json::value(kRolloutUid));
  EXPECT_EQ(owners.at(0).at("controller"), true);
  EXPECT_EQ(owners.at(0).at("blockOwnerDeletion"), true);
  const auto& spec = canary.at("spec").as_object();
  EXPECT_EQ(spec.at("ingressClassName"), "nginx");
  const auto& paths = spec.at("rules").at(0).at("http").at("paths").as_array();
  EXPECT_EQ(paths.at(0).at("backend").at("service").at("name"), "web-canary");
  EXPECT_EQ(paths.at(1).at("backend").at("service").at("name"), "static");
  EXPECT_EQ(get(kIngresses, ns, "web")
                .at("spec")
                .at("rules")
                .at(0)
                .at("http")
                .at("paths")
                .at(0)
                .at("backend")
                .at("service")
                .at("name"),
            "web-stable")
      << "the stable Ingress is only read";

  EXPECT_EQ(verified(target, 30), "true");
  EXPECT_EQ(verified(target, 60), "false");

  // A user's label on the canary Ingress stays; a new path on the stable one reaches the canary.
  addLabel(kIngresses, ns, canaryName);
  auto stable = get(kIngresses, ns, "web");
  stable["spec"]
      .as_object()["rules"]
      .as_array()[0]
      .as_object()["http"]
      .as_object()["paths"]
      .as_array()
      .push_back(json::parse(R"({"path": "/api", "pathType": "Prefix",
          "backend": {"service": {"name": "web-stable", "port": {"number": 80}}}})"));
  ASSERT_TRUE(io_.run(client_->update(kIngresses, ns, stable)));
  set = setWeight(target, 100);
  ASSERT_TRUE(set) << set.error().describe();
  canary = get(kIngresses, ns, canaryName);
  EXPECT_EQ(labelOf(canary, "team"), "payments");
  EXPECT_EQ(canary.at("metadata").at("annotations").at("nginx.ingress.kubernetes.io/canary-weight"),
            "100");
  const auto& followed = canary.at("spec").at("rules").at(0).at("http").at("paths").as_array();
  ASSERT_EQ(followed.size(), 3u);
  EXPECT_EQ(followed.at(2).at("backend").at("service").at("name"), "web-canary");
  // Already right: no write.
  ASSERT_TRUE(setWeight(target, 100));
  EXPECT_EQ(kube::resourceVersionOf(get(kIngresses, ns, canaryName)),
            kube::resourceVersionOf(canary));

  ASSERT_TRUE(reset(target));
  auto gone = io_.run(client_->get(kIngresses, ns, canaryName));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(verified(target, 0), "true");
  EXPECT_TRUE(reset(target)) << "nothing to delete is fine";

  auto missing = targetFor(ns, routing("nginx", "stableIngress", "nope"));
  expectInvalid(validate(missing), "spec.strategy.canary.trafficRouting.nginx.stableIngress",
                "Ingress \"nope\" not found");
  expectInvalid(setWeight(missing, 10), "spec.strategy.canary.trafficRouting.nginx.stableIngress",
                "not found");

  // An Ingress routing elsewhere; and one whose canary name is already taken by the user.
  create(kIngresses, ns, R"({
    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "other"},
    "spec": {"defaultBackend": {"service": {"name": "static", "port": {"number": 80}}}}})");
  expectInvalid(validate(targetFor(ns, routing("nginx", "stableIngress", "other"))),
                "spec.strategy.canary.trafficRouting.nginx.stableIngress",
                "stable Service \"web-stable\"");
  create(kIngresses, ns, R"({
    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "taken"},
    "spec": {"defaultBackend": {"service": {"name": "web-stable", "port": {"number": 80}}}}})");
  create(kIngresses, ns, R"({
    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
    "metadata": {"name": "taken-web-canary"},
    "spec": {"defaultBackend": {"service": {"name": "static", "port": {"number": 80}}}}})");
  auto taken = targetFor(ns, routing("nginx", "stableIngress", "taken"));
  expectInvalid(setWeight(taken, 10), "spec.strategy.canary.trafficRouting.nginx.stableIngress",
                "not managed");
  ASSERT_TRUE(reset(taken));
  EXPECT_EQ(get(kIngresses, ns, "taken-web-canary")
                .at("spec")
                .at("defaultBackend")
                .at("service")
                .at("name"),
            "static")
      << "not MC's: neither changed nor deleted";
}

TEST_F(RoutersTest, IstioSplitsTheVirtualService) {
  const std::string ns = "router-istio";
  makeNamespace(ns);
  create(kVirtualServices, ns, R"({
    "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "web"},
    "spec": {
      "hosts": ["web.example.com"],
      "http": [
        {"name": "admin", "match": [{"uri": {"prefix": "/admin"}}],
         "route": [{"destination": {"host": "admin"}}]},
        {"name": "primary",
         "route": [
           {"destination": {"host": "web-stable.router-istio.svc.cluster.local",
                            "port": {"number": 80}}, "weight": 100},
           {"destination": {"host": "web-canary", "port": {"number": 80}}, "weight": 0}]}
      ]}})");
  auto target = targetFor(ns, routing("istio", "virtualService", "web"));

  ASSERT_TRUE(validate(target)) << validate(target).error().describe();
  auto set = setWeight(target, 30);
  ASSERT_TRUE(set) << set.error().describe();
  auto virtualService = get(kVirtualServices, ns, "web");
  const auto& http = virtualService.at("spec").at("http").as_array();
  const auto& routes = http.at(1).at("route").as_array();
  EXPECT_EQ(weightAt(routes.at(0)), 70);
  EXPECT_EQ(weightAt(routes.at(1)), 30);
  EXPECT_FALSE(http.at(0).at("route").at(0).as_object().contains("weight"))
      << "an entry without both destinations is not touched";

  EXPECT_EQ(verified(target, 30), "true");
  EXPECT_EQ(verified(target, 60), "false");

  addLabel(kVirtualServices, ns, "web");
  ASSERT_TRUE(setWeight(target, 100));
  virtualService = get(kVirtualServices, ns, "web");
  EXPECT_EQ(labelOf(virtualService, "team"), "payments") << "the user's edit survives";
  const auto& full = virtualService.at("spec").at("http").at(1).at("route").as_array();
  EXPECT_EQ(weightAt(full.at(0)), 0);
  EXPECT_EQ(weightAt(full.at(1)), 100);

  ASSERT_TRUE(reset(target));
  virtualService = get(kVirtualServices, ns, "web");
  const auto& back = virtualService.at("spec").at("http").at(1).at("route").as_array();
  EXPECT_EQ(weightAt(back.at(0)), 100);
  EXPECT_EQ(weightAt(back.at(1)), 0);
  EXPECT_EQ(verified(target, 0), "true");
  // Already right: no write.
  ASSERT_TRUE(reset(target));
  EXPECT_EQ(kube::resourceVersionOf(get(kVirtualServices, ns, "web")),
            kube::resourceVersionOf(virtualService));

  auto missing = targetFor(ns, routing("istio", "virtualService", "nope"));
  expectInvalid(validate(missing), "spec.strategy.canary.trafficRouting.istio.virtualService",
                "VirtualService \"nope\" not found");

  create(kVirtualServices, ns, R"({
    "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "stable-only"},
    "spec": {"hosts": ["web.example.com"],
             "http": [{"route": [{"destination": {"host": "web-stable"}}]}]}})");
  auto stableOnly = targetFor(ns, routing("istio", "virtualService", "stable-only"));
  expectInvalid(validate(stableOnly), "spec.strategy.canary.trafficRouting.istio.virtualService",
                "both destinations are needed");
  expectInvalid(setWeight(stableOnly, 10),
                "spec.strategy.canary.trafficRouting.istio.virtualService",
                "both destinations are needed");
}

}  // namespace
}  // namespace mc::reconcilers

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new mc::e2e::ControlPlaneEnvironment);
  return RUN_ALL_TESTS();
}
