#include "mc/crds/pod_template_hash.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mc::crds {
namespace {

namespace json = boost::json;

// The hash names a running Rollout's ReplicaSets (`<rollout>-<hash>`, and the
// mc.maestro.dev/pod-template-hash label on their selectors and pods). If a new MC hashed the
// same template differently, it would find no ReplicaSet for the current template after an
// upgrade and start a canary of an unchanged template in every Rollout of the cluster. So these
// values were computed once, by the MC that first shipped them, and must never change: a change
// to canonicalJson() or podTemplateHash() that moves one of them is a breaking change, not a
// fixture to update.

json::object parseObject(std::string_view text) { return json::parse(text).as_object(); }

constexpr const char* kMinimal = R"({"spec": {"containers": [{"name": "web",
                                                               "image": "example/web:1"}]}})";

constexpr const char* kSeveralContainers = R"({
  "metadata": {"labels": {"app": "shop", "tier": "front"},
               "annotations": {"prometheus.io/scrape": "true"}},
  "spec": {
    "serviceAccountName": "shop",
    "terminationGracePeriodSeconds": 30,
    "initContainers": [{"name": "migrate", "image": "example/shop-migrate:7",
                        "args": ["--to", "latest"]}],
    "containers": [
      {"name": "shop", "image": "example/shop:7",
       "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                 {"name": "metrics", "containerPort": 9090}],
       "env": [{"name": "MODE", "value": "production"},
               {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
       "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
       "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5}},
      {"name": "proxy", "image": "example/proxy:1.2",
       "ports": [{"containerPort": 15001}], "securityContext": {"runAsNonRoot": true}}
    ]
  }
})";

// The same template twice: raw UTF-8 and one key order, then \u escapes (a surrogate pair
// included), other key orders and other whitespace. The hash is defined on the parsed value's
// canonical JSON (keys sorted by their UTF-8 bytes at every level, strings written as UTF-8, no
// whitespace), so both must give one hash.
constexpr const char* kUnicode = R"({
  "metadata": {"labels": {"app": "café"},
               "annotations": {"zeta": "last", "émoji": "🚀 launch", "description": "naïve – 日本"}},
  "spec": {"containers": [{"name": "web", "image": "example/web:1",
                           "env": [{"name": "GREETING", "value": "¡Hola, señor!\n\"quoted\""}]}]}
})";
constexpr const char* kUnicodeEscapedAndReordered =
    R"({"spec":{"containers":[{"env":[{"value":"\u00a1Hola, se\u00f1or!\u000a\"quoted\"",)"
    R"("name":"GREETING"}],"image":"example/web:1","name":"web"}]},"metadata":{"annotations":)"
    R"({"description":"na\u00efve \u2013 \u65e5\u672c","\u00e9moji":"\ud83d\ude80 launch",)"
    R"("zeta":"last"},"labels":{"app":"caf\u00e9"}}})";

TEST(PodTemplateHashGoldenTest, MinimalTemplate) {
  EXPECT_EQ(podTemplateHash(parseObject(kMinimal)), "67b885f46d");
}

TEST(PodTemplateHashGoldenTest, SeveralContainersEnvAndPorts) {
  EXPECT_EQ(podTemplateHash(parseObject(kSeveralContainers)), "676bf8454f");
}

TEST(PodTemplateHashGoldenTest, UnicodeAndKeyOrderDoNotMatter) {
  auto written = parseObject(kUnicode);
  auto escaped = parseObject(kUnicodeEscapedAndReordered);
  ASSERT_EQ(written, escaped) << "the two spellings must be one template";
  // Pinned too: the bytes hashed, so a failure below says which half moved.
  // "zeta" sorts before "émoji": bytes, not a locale's collation.
  EXPECT_EQ(canonicalJson(written),
            R"({"metadata":{"annotations":{"description":"naïve – 日本","zeta":"last",)"
            R"("émoji":"🚀 launch"},"labels":{"app":"café"}},"spec":{"containers":[{"env":)"
            R"([{"name":"GREETING","value":"¡Hola, señor!\n\"quoted\""}],)"
            R"("image":"example/web:1","name":"web"}]}})");
  EXPECT_EQ(podTemplateHash(written), "668956c976");
  EXPECT_EQ(podTemplateHash(escaped), "668956c976");
}

// The collision count's bytes join the hash only when it is not 0 (a count of 256 has a zero low
// byte, so it catches a count written in one byte).
TEST(PodTemplateHashGoldenTest, CollisionCounts) {
  auto minimal = parseObject(kMinimal);
  EXPECT_EQ(podTemplateHash(minimal, 0), "67b885f46d");
  EXPECT_EQ(podTemplateHash(minimal, 1), "6ddcc759c");
  EXPECT_EQ(podTemplateHash(minimal, 256), "86f7fc4459");
}

}  // namespace
}  // namespace mc::crds
