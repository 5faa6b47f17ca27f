// The fake apiserver behaves as the real one where MC depends on it, and the real informer runs
// on it unchanged: syncing, following writes, and relisting after a compacted watch.
#include "mc/testing/fake_apiserver.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <set>

#include "mc/common/json.h"
#include "mc/e2e/poll.h"
#include "mc/runtime/controller.h"
#include "mc/runtime/informer.h"
#include "mc/testing/fake_clock.h"
#include "mc/testing/io_thread.h"
#include "mc/testing/objects.h"

namespace mc::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using kube::PatchType;
using kube::ResourceType;
using kube::WatchEvent;
using kube::WatchEventType;

const ResourceType kConfigMaps = kube::resources::kConfigMaps;
// A custom resource with status and scale subresources, as a Rollout has.
const ResourceType kWidgets{"example.com", "v1", "widgets"};
const std::string kStatus = "status";
const std::string kScale = "scale";

json::object widget(const std::string& ns, const std::string& name, int replicas = 2) {
  return {{"apiVersion", "example.com/v1"},
          {"kind", "Widget"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", "web"}}}}},
          {"spec", {{"replicas", replicas}, {"color", "blue"}}}};
}

json::object labelled(const std::string& ns, const std::string& name, json::object labels) {
  return configMap(ns, name, "", json::object{{"labels", std::move(labels)}});
}

std::vector<std::string> namesOf(const std::vector<json::object>& items) {
  std::vector<std::string> names;
  for (const auto& item : items) {
    names.push_back(kube::nameOf(item));
  }
  return names;
}

int64_t generationOf(const json::object& object) {
  return intAt(objectAt(object, "metadata"), "generation", -1);
}

class FakeApiServerTest : public ::testing::Test {
 protected:
  template <class T>
  T run(boost::asio::awaitable<T> awaitable) {
    return io_.run(std::move(awaitable));
  }

  Result<json::object> create(const ResourceType& type, json::object object) {
    std::string ns = kube::namespaceOf(object);
    return run(fake_.create(type, ns, std::move(object)));
  }

  Result<json::object> mergePatch(const ResourceType& type, const std::string& name,
                                  const std::string& body, const std::string& subresource = {}) {
    return run(
        fake_.patch(type, "ns", name, PatchType::Merge, body, kube::PatchOptions{subresource}));
  }

  Result<kube::ObjectList> list(const ResourceType& type, const std::string& ns,
                                kube::ListOptions options) {
    return run(fake_.list(type, ns, std::move(options)));
  }

  FakeClock clock_;
  FakeApiServer fake_{clock_};
  IoThread io_;  // after the fake: stopped first, so no watch outlives it
};

// --- Objects, versions, errors ---

TEST_F(FakeApiServerTest, CreateSetsUidTimestampGenerationAndVersionAndDropsStatus) {
  auto object = widget("ns", "a");
  object["status"] = json::object{{"replicas", 5}};
  auto created = create(kWidgets, object);
  ASSERT_TRUE(created) << created.error().describe();
  const auto* metadata = objectAt(*created, "metadata");
  EXPECT_FALSE(kube::uidOf(*created).empty());
  EXPECT_EQ(stringAt(metadata, "creationTimestamp"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(generationOf(*created), 1);
  EXPECT_EQ(kube::resourceVersionOf(*created), fake_.resourceVersion());
  EXPECT_FALSE(created->contains("status")) << "status is the status subresource's";

  auto other = create(kWidgets, widget("ns", "b"));
  ASSERT_TRUE(other);
  EXPECT_NE(kube::uidOf(*other), kube::uidOf(*created));
  EXPECT_GT(std::stoll(kube::resourceVersionOf(*other)),
            std::stoll(kube::resourceVersionOf(*created)));

  auto again = create(kWidgets, widget("ns", "a"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::AlreadyExists);
  EXPECT_EQ(again.error().httpStatus, 409);
  EXPECT_NE(again.error().message.find("widgets.example.com \"a\" already exists"),
            std::string::npos)
      << again.error().message;
}

TEST_F(FakeApiServerTest, GenerateNameAndNamespaceChecks) {
  json::object object = widget("ns", "");
  object["metadata"].as_object().erase("name");
  object["metadata"].as_object()["generateName"] = "w-";
  auto created = create(kWidgets, object);
  ASSERT_TRUE(created) << created.error().describe();
  EXPECT_EQ(kube::nameOf(*created).rfind("w-", 0), 0u);
  EXPECT_GT(kube::nameOf(*created).size(), 2u);

  auto mismatched = run(fake_.create(kWidgets, "other", widget("ns", "x")));
  ASSERT_FALSE(mismatched);
  EXPECT_EQ(mismatched.error().kind, ErrorKind::Invalid);
}

TEST_F(FakeApiServerTest, GetOfAMissingObjectIsNotFound) {
  auto got = run(fake_.get(kWidgets, "ns", "missing"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(got.error().httpStatus, 404);
  auto sub = run(fake_.get(kWidgets, "ns", "missing", kScale));
  ASSERT_FALSE(sub);
  EXPECT_EQ(sub.error().kind, ErrorKind::NotFound);
}

TEST_F(FakeApiServerTest, UpdateNeedsTheCurrentVersionAndBumpsGenerationOnSpecOnly) {
  auto created = create(kWidgets, widget("ns", "a"));
  ASSERT_TRUE(created);

  // Labels are metadata: a new version, the same generation.
  json::object relabelled = *created;
  relabelled["metadata"].as_object()["labels"].as_object()["tier"] = "front";
  auto first = run(fake_.update(kWidgets, "ns", relabelled));
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_NE(kube::resourceVersionOf(*first), kube::resourceVersionOf(*created));
  EXPECT_EQ(generationOf(*first), 1);

  // The version it was read at is stale now.
  auto stale = run(fake_.update(kWidgets, "ns", relabelled));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(stale.error().httpStatus, 409);

  // A spec change bumps the generation; the status in the body is ignored.
  json::object respecced = *first;
  respecced["spec"].as_object()["color"] = "red";
  respecced["status"] = json::object{{"replicas", 9}};
  auto second = run(fake_.update(kWidgets, "ns", respecced));
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ(generationOf(*second), 2);
  EXPECT_FALSE(second->contains("status"));
  EXPECT_EQ(stringAt(*objectAt(*second, "spec"), "color"), "red");
  EXPECT_EQ(kube::uidOf(*second), kube::uidOf(*created)) << "uid is immutable";

  // Without a resourceVersion the update is unconditional.
  json::object unconditional = *second;
  unconditional["metadata"].as_object().erase("resourceVersion");
  unconditional["spec"].as_object()["color"] = "green";
  auto third = run(fake_.update(kWidgets, "ns", unconditional));
  ASSERT_TRUE(third) << third.error().describe();
  EXPECT_EQ(generationOf(*third), 3);

  auto missing = run(fake_.update(kWidgets, "ns", widget("ns", "nope")));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
}

TEST_F(FakeApiServerTest, AWriteThatChangesNothingKeepsTheVersion) {
  auto created = create(kWidgets, widget("ns", "a"));
  ASSERT_TRUE(created);
  auto version = fake_.resourceVersion();
  auto same = run(fake_.update(kWidgets, "ns", *created));
  ASSERT_TRUE(same);
  EXPECT_EQ(kube::resourceVersionOf(*same), kube::resourceVersionOf(*created));
  auto patched = mergePatch(kWidgets, "a", R"({"spec":{"color":"blue"}})");
  ASSERT_TRUE(patched);
  EXPECT_EQ(fake_.resourceVersion(), version);
  EXPECT_EQ(fake_.writes(Verb::Update, "widgets"), 1) << "a no-op is still a write request";
}

TEST_F(FakeApiServerTest, StatusSubresourceChangesOnlyStatus) {
  auto created = create(kWidgets, widget("ns", "a"));
  ASSERT_TRUE(created);
  json::object body = *created;
  body["status"] = json::object{{"replicas", 2}, {"selector", "app=web"}};
  body["spec"].as_object()["color"] = "red";
  body["metadata"].as_object()["labels"] = json::object{{"changed", "yes"}};
  auto updated = run(fake_.update(kWidgets, "ns", body, kStatus));
  ASSERT_TRUE(updated) << updated.error().describe();
  EXPECT_EQ(intAt(objectAt(*updated, "status"), "replicas", -1), 2);
  EXPECT_EQ(stringAt(objectAt(*updated, "spec"), "color"), "blue") << "spec is not status's";
  EXPECT_EQ(stringAt(objectAt(objectAt(*updated, "metadata"), "labels"), "app"), "web");
  EXPECT_EQ(generationOf(*updated), 1);

  // A stale status update is a Conflict too.
  auto stale = run(fake_.update(kWidgets, "ns", body, kStatus));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().kind, ErrorKind::Conflict);

  // A status patch; a main-resource patch of status changes nothing of it.
  auto patched = mergePatch(kWidgets, "a", R"({"status":{"phase":"Ready"}})", kStatus);
  ASSERT_TRUE(patched) << patched.error().describe();
  EXPECT_EQ(stringAt(objectAt(*patched, "status"), "phase"), "Ready");
  EXPECT_EQ(intAt(objectAt(*patched, "status"), "replicas", -1), 2);
  auto mainPatch = mergePatch(kWidgets, "a", R"({"status":{"phase":"Hacked"},"spec":{"x":1}})");
  ASSERT_TRUE(mainPatch);
  EXPECT_EQ(stringAt(objectAt(*mainPatch, "status"), "phase"), "Ready");
  EXPECT_EQ(generationOf(*mainPatch), 2);
}

TEST_F(FakeApiServerTest, ScaleSubresourceMapsReplicasAndSelector) {
  ASSERT_TRUE(create(kWidgets, widget("ns", "a", 3)));
  ASSERT_TRUE(fake_.editStatus(kWidgets, "ns", "a", [](json::object& status) {
    status["replicas"] = 2;
    status["selector"] = "app=web";
  }));
  auto scale = run(fake_.get(kWidgets, "ns", "a", kScale));
  ASSERT_TRUE(scale) << scale.error().describe();
  EXPECT_EQ(stringAt(*scale, "kind"), "Scale");
  EXPECT_EQ(stringAt(*scale, "apiVersion"), "autoscaling/v1");
  EXPECT_EQ(intAt(objectAt(*scale, "spec"), "replicas", -1), 3);
  EXPECT_EQ(intAt(objectAt(*scale, "status"), "replicas", -1), 2);
  EXPECT_EQ(stringAt(objectAt(*scale, "status"), "selector"), "app=web");

  json::object body = *scale;
  body["spec"].as_object()["replicas"] = 5;
  auto updated = run(fake_.update(kWidgets, "ns", body, kScale));
  ASSERT_TRUE(updated) << updated.error().describe();
  EXPECT_EQ(intAt(objectAt(*updated, "spec"), "replicas", -1), 5);
  auto object = fake_.read(kWidgets, "ns", "a");
  EXPECT_EQ(intAt(objectAt(*object, "spec"), "replicas", -1), 5);
  EXPECT_EQ(generationOf(*object), 2) << "spec.replicas is spec";
  EXPECT_EQ(stringAt(objectAt(*object, "spec"), "color"), "blue");

  auto stale = run(fake_.update(kWidgets, "ns", body, kScale));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().kind, ErrorKind::Conflict);

  auto patched = mergePatch(kWidgets, "a", R"({"spec":{"replicas":0}})", kScale);
  ASSERT_TRUE(patched) << patched.error().describe();
  EXPECT_FALSE(objectAt(*patched, "spec")->contains("replicas")) << "omitempty, as autoscaling/v1";
  EXPECT_EQ(intAt(objectAt(*fake_.read(kWidgets, "ns", "a"), "spec"), "replicas", -1), 0);
}

TEST_F(FakeApiServerTest, MergePatchDeletesWithNullAndChecksAResourceVersionInIt) {
  ASSERT_TRUE(create(kWidgets, widget("ns", "a")));
  auto patched = mergePatch(kWidgets, "a",
                            R"({"metadata":{"annotations":{"x":"1"}},"spec":{"color":null,)"
                            R"("nested":{"a":{"b":1}}}})");
  ASSERT_TRUE(patched) << patched.error().describe();
  const auto* spec = objectAt(*patched, "spec");
  EXPECT_FALSE(spec->contains("color"));
  EXPECT_EQ(intAt(spec, "replicas", -1), 2);
  EXPECT_EQ(json::serialize(spec->at("nested")), R"({"a":{"b":1}})");
  EXPECT_EQ(stringAt(objectAt(objectAt(*patched, "metadata"), "annotations"), "x"), "1");

  // kubectl mc promote sends the version it read: a patch over a newer one is a Conflict.
  auto stale = mergePatch(
      kWidgets, "a", R"({"metadata":{"resourceVersion":"1"},"status":{"promoteStep":1}})", kStatus);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().kind, ErrorKind::Conflict);
  auto current = fmt::format(R"({{"metadata":{{"resourceVersion":"{}"}},"status":{{"s":1}}}})",
                             kube::resourceVersionOf(*patched));
  EXPECT_TRUE(mergePatch(kWidgets, "a", current, kStatus));

  // Objects nest deeper than a JSON parser's default limit (CRD schemas, pod templates).
  std::string deep = R"({"spec":{"deep":)";
  for (int i = 0; i < 40; ++i) {
    deep += R"({"a":)";
  }
  deep += "1" + std::string(40, '}') + "}}";
  EXPECT_TRUE(mergePatch(kWidgets, "a", deep));

  auto missing = mergePatch(kWidgets, "nope", R"({"spec":{}})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
}

TEST_F(FakeApiServerTest, MalformedPatchesAndApplyAreInvalid) {
  ASSERT_TRUE(create(kWidgets, widget("ns", "a")));
  auto version = fake_.resourceVersion();
  for (auto [type, body] : std::vector<std::pair<PatchType, std::string>>{
           {PatchType::Merge, "{not json"},
           {PatchType::Merge, "[1,2]"},
           {PatchType::Json, R"({"op":"add"})"},
           {PatchType::Json, R"([{"op":"frobnicate","path":"/spec"}])"},
           {PatchType::Json, R"([{"op":"remove","path":"/spec/nothing"}])"},
           {PatchType::Json, R"([{"op":"test","path":"/spec/color","value":"red"}])"},
           {PatchType::Json, R"([{"op":"replace","path":"/metadata/name","value":"b"}])"},
           {PatchType::Apply, R"({"spec":{}})"},
       }) {
    auto patched = run(fake_.patch(kWidgets, "ns", "a", type, body));
    ASSERT_FALSE(patched) << body;
    EXPECT_EQ(patched.error().kind, ErrorKind::Invalid) << body;
  }
  EXPECT_EQ(fake_.resourceVersion(), version) << "a failed patch writes nothing";
}

TEST_F(FakeApiServerTest, JsonPatchOnAnObject) {
  ASSERT_TRUE(create(kWidgets, widget("ns", "a")));
  auto patched = run(fake_.patch(kWidgets, "ns", "a", PatchType::Json, R"([
    {"op":"test","path":"/spec/color","value":"blue"},
    {"op":"add","path":"/metadata/annotations","value":{}},
    {"op":"add","path":"/metadata/annotations/mc.maestro.dev~1revision","value":"2"},
    {"op":"add","path":"/spec/list","value":[1,3]},
    {"op":"add","path":"/spec/list/1","value":2},
    {"op":"add","path":"/spec/list/-","value":4},
    {"op":"replace","path":"/spec/replicas","value":7},
    {"op":"copy","from":"/spec/color","path":"/spec/tilde~0key"},
    {"op":"move","from":"/spec/color","path":"/spec/colour"},
    {"op":"remove","path":"/spec/list/0"}
  ])"));
  ASSERT_TRUE(patched) << patched.error().describe();
  const auto* spec = objectAt(*patched, "spec");
  EXPECT_EQ(json::serialize(spec->at("list")), "[2,3,4]");
  EXPECT_EQ(intAt(spec, "replicas", -1), 7);
  EXPECT_EQ(stringAt(spec, "tilde~key"), "blue");
  EXPECT_EQ(stringAt(spec, "colour"), "blue");
  EXPECT_FALSE(spec->contains("color"));
  EXPECT_EQ(
      stringAt(objectAt(objectAt(*patched, "metadata"), "annotations"), "mc.maestro.dev/revision"),
      "2");
  EXPECT_EQ(generationOf(*patched), 2);
}

// RFC 6902's own examples (appendix A), and the edges of JSON pointers.
TEST(JsonPatchTest, Rfc6902Examples) {
  struct Case {
    const char* document;
    const char* patch;
    const char* expected;  // nullptr: an error
  };
  const Case cases[] = {
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])",
       R"({"foo":"bar","baz":"qux"})"},
      {R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])",
       R"({"foo":["bar","qux","baz"]})"},
      {R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
      {R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])",
       R"({"foo":["bar","baz"]})"},
      {R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])",
       R"({"baz":"boo","foo":"bar"})"},
      {R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
       R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
       R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
      {R"({"foo":["all","grass","cows","eat"]})",
       R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
       R"({"foo":["all","cows","eat","grass"]})"},
      {R"({"baz":"qux","foo":["a",2,"c"]})",
       R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
       R"({"baz":"qux","foo":["a",2,"c"]})"},
      {R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])", nullptr},
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
       R"({"foo":"bar","child":{"grandchild":{}}})"},
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])", nullptr},
      {R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])", R"({"/":9,"~1":10})"},
      {R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])", nullptr},
      {R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
       R"({"foo":["bar",["abc","def"]]})"},
      // Numbers compare by value; the whole document can be replaced; bad pointers fail.
      {R"({"n":1})", R"([{"op":"test","path":"/n","value":1.0}])", R"({"n":1})"},
      {R"({"a":1})", R"([{"op":"add","path":"","value":{"b":2}}])", R"({"b":2})"},
      {R"({"a":[1]})", R"([{"op":"add","path":"/a/2","value":3}])", nullptr},
      {R"({"a":[1]})", R"([{"op":"remove","path":"/a/01"}])", nullptr},
      {R"({"a":1})", R"([{"op":"remove","path":"a"}])", nullptr},
      {R"({"a":1})", R"([{"op":"test","path":"/~2","value":1}])", nullptr},
      {R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/c"}])", nullptr},
      {R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])",
       R"({"a":{"b":1},"c":{"b":1}})"},
      // A failed operation leaves nothing half done.
      {R"({"a":1})", R"([{"op":"add","path":"/b","value":2},{"op":"test","path":"/a","value":3}])",
       nullptr},
  };
  for (const auto& c : cases) {
    auto patched = applyJsonPatch(json::parse(c.document), json::parse(c.patch));
    if (c.expected == nullptr) {
      EXPECT_FALSE(patched) << c.patch;
      if (!patched) {
        EXPECT_EQ(patched.error().kind, ErrorKind::Invalid);
      }
    } else {
      ASSERT_TRUE(patched) << c.patch << ": " << patched.error().describe();
      EXPECT_EQ(*patched, json::parse(c.expected)) << c.patch;
    }
  }
}

// RFC 7386's examples (appendix A).
TEST(MergePatchTest, Rfc7386Examples) {
  struct Case {
    const char* target;
    const char* patch;
    const char* expected;
  };
  const Case cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", "null", "null"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const auto& c : cases) {
    json::value target = json::parse(c.target);
    applyMergePatch(target, json::parse(c.patch));
    EXPECT_EQ(target, json::parse(c.expected)) << c.target << " + " << c.patch;
  }
}

TEST(LabelSelectorTest, ParsesAndMatchesAsTheApiserver) {
  json::object labels{{"app", "web"}, {"tier", "front"}, {"mc.maestro.dev/pod-template-hash", "h"}};
  struct Case {
    const char* selector;
    bool matches;
  };
  const Case cases[] = {
      {"", true},
      {"app=web", true},
      {"app==web", true},
      {"app = web", true},
      {"app=api", false},
      {"app!=api", true},
      {"app!=web", false},
      {"missing!=x", true},
      {"app in (api, web)", true},
      {"app in (api)", false},
      {"app notin (api,db)", true},
      {"app notin (web)", false},
      {"missing notin (x)", true},
      {"mc.maestro.dev/pod-template-hash", true},
      {"missing", false},
      {"!missing", true},
      {"!app", false},
      {"app=web,tier=front", true},
      {"app=web,tier=back", false},
      {"app in (web),!missing,tier", true},
  };
  for (const auto& c : cases) {
    auto selector = LabelSelector::parse(c.selector);
    ASSERT_TRUE(selector) << c.selector << ": " << selector.error().describe();
    EXPECT_EQ(selector->matches(&labels), c.matches) << c.selector;
  }
  EXPECT_TRUE(LabelSelector::parse("!missing")->matches(nullptr)) << "no labels at all";
  for (const char* bad : {"app=web,", "=web", "app in web", "app in (a", "app>1", "!", "a b"}) {
    auto selector = LabelSelector::parse(bad);
    ASSERT_FALSE(selector) << bad;
    EXPECT_EQ(selector.error().kind, ErrorKind::Invalid) << bad;
  }
}

// --- Lists ---

TEST_F(FakeApiServerTest, ListFiltersByNamespaceLabelsAndFields) {
  fake_.put(kConfigMaps, labelled("ns", "a", {{"app", "web"}, {"tier", "front"}}));
  fake_.put(kConfigMaps, labelled("ns", "b", {{"app", "web"}}));
  fake_.put(kConfigMaps, labelled("ns", "c", {{"app", "db"}}));
  fake_.put(kConfigMaps, labelled("other", "a", {{"app", "web"}}));

  auto names = [&](const std::string& ns, kube::ListOptions options) {
    auto listed = list(kConfigMaps, ns, std::move(options));
    EXPECT_TRUE(listed) << listed.error().describe();
    return listed ? namesOf(listed->items) : std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("ns", {}), (V{"a", "b", "c"}));
  EXPECT_EQ(names("", {}).size(), 4u) << "all namespaces";
  EXPECT_EQ(names("ns", {"app=web"}), (V{"a", "b"}));
  EXPECT_EQ(names("ns", {"app in (web,db),!tier"}), (V{"b", "c"}));
  EXPECT_EQ(names("ns", {"app!=web"}), (V{"c"}));
  EXPECT_EQ(names("", {"", "metadata.name=a"}).size(), 2u);
  EXPECT_EQ(names("", {"app=web", "metadata.namespace==other"}), (V{"a"}));
  EXPECT_EQ(names("ns", {"", "metadata.name!=a"}), (V{"b", "c"}));

  auto bad = list(kConfigMaps, "ns", {"app in web"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::Invalid);
  auto badField = list(kConfigMaps, "ns", {"", "spec.x=1"});
  ASSERT_FALSE(badField);
  EXPECT_EQ(badField.error().kind, ErrorKind::Invalid);
}

TEST_F(FakeApiServerTest, ListPagesWithLimitAndContinueAndAnswersTheCurrentVersion) {
  for (int i = 0; i < 7; ++i) {
    fake_.put(kConfigMaps, configMap("ns", fmt::format("cm-{}", i)));
  }
  fake_.put(kConfigMaps, configMap("other", "x"));
  auto first = list(kConfigMaps, "ns", {"", "", 3});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->items.size(), 3u);
  EXPECT_EQ(first->resourceVersion, fake_.resourceVersion());
  ASSERT_FALSE(first->continueToken.empty());
  fake_.put(kConfigMaps, configMap("ns", "cm-9"));  // a write between pages
  auto second = list(kConfigMaps, "ns", {"", "", 3, first->continueToken});
  ASSERT_TRUE(second);
  EXPECT_EQ(namesOf(second->items), (std::vector<std::string>{"cm-3", "cm-4", "cm-5"}));
  EXPECT_EQ(second->resourceVersion, first->resourceVersion) << "pages share the first's version";

  auto all = run(fake_.listAll(kConfigMaps, "ns", {}, 2));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->items.size(), 8u);
  EXPECT_EQ(all->resourceVersion, fake_.resourceVersion());

  auto exact = list(kConfigMaps, "ns", {"", "", 8});
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->items.size(), 8u);
  EXPECT_TRUE(exact->continueToken.empty()) << "no token when nothing is left";
  auto bad = list(kConfigMaps, "ns", {"", "", 3, "garbage"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::Invalid);
}

// --- Deletes ---

TEST_F(FakeApiServerTest, DeleteWithPreconditionsAndFinalizers) {
  auto created = create(kWidgets, widget("ns", "a"));
  ASSERT_TRUE(created);
  kube::DeleteOptions wrongUid;
  wrongUid.preconditionUid = "not-the-uid";
  auto refused = run(fake_.remove(kWidgets, "ns", "a", wrongUid));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(refused.error().httpStatus, 409);
  kube::DeleteOptions staleVersion;
  staleVersion.preconditionResourceVersion = "1";
  fake_.put(kWidgets, widget("ns", "a", 4));  // a newer version
  auto stale = run(fake_.remove(kWidgets, "ns", "a", staleVersion));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().kind, ErrorKind::Conflict);

  kube::DeleteOptions right;
  right.preconditionUid = kube::uidOf(*created);
  auto removed = run(fake_.remove(kWidgets, "ns", "a", right));
  ASSERT_TRUE(removed) << removed.error().describe();
  EXPECT_FALSE(fake_.read(kWidgets, "ns", "a"));
  auto again = run(fake_.remove(kWidgets, "ns", "a"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::NotFound);

  // A finalizer holds the object, marked, until it is removed.
  auto held = widget("ns", "held");
  held["metadata"].as_object()["finalizers"] = json::array{"example.com/cleanup"};
  ASSERT_TRUE(create(kWidgets, held));
  ASSERT_TRUE(run(fake_.remove(kWidgets, "ns", "held")));
  auto marked = fake_.read(kWidgets, "ns", "held");
  ASSERT_TRUE(marked);
  EXPECT_FALSE(stringAt(objectAt(*marked, "metadata"), "deletionTimestamp").empty());
  ASSERT_TRUE(mergePatch(kWidgets, "held", R"({"metadata":{"finalizers":null}})"));
  EXPECT_FALSE(fake_.read(kWidgets, "ns", "held")) << "gone with its last finalizer";
}

TEST_F(FakeApiServerTest, VersionPath) {
  auto version = run(fake_.getPath("/version"));
  ASSERT_TRUE(version);
  EXPECT_EQ(stringAt(*version, {"major"}), "1");
  EXPECT_FALSE(stringAt(*version, {"gitVersion"}).empty());
  auto other = run(fake_.getPath("/nope"));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::NotFound);
}

// --- Faults and counts ---

TEST_F(FakeApiServerTest, FailNextFailsThatManyCallsOfThatVerbAndResource) {
  ASSERT_TRUE(create(kWidgets, widget("ns", "a")));
  fake_.failNext(Verb::Update, "widgets/status", 2,
                 makeError(ErrorKind::Conflict, "injected", 409));
  auto current = *fake_.read(kWidgets, "ns", "a");
  // Another verb, and the main resource, are not covered by that fault.
  EXPECT_TRUE(mergePatch(kWidgets, "a", R"({"status":{"x":1}})", kStatus));
  current = *fake_.read(kWidgets, "ns", "a");
  EXPECT_TRUE(run(fake_.update(kWidgets, "ns", current)));
  for (int i = 0; i < 2; ++i) {
    auto failed = run(fake_.update(kWidgets, "ns", current, kStatus));
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().message, "injected");
    EXPECT_EQ(failed.error().httpStatus, 409);
  }
  EXPECT_TRUE(run(fake_.update(kWidgets, "ns", current, kStatus)));

  // "widgets" covers the subresources too; reads fail as well.
  fake_.failNext(Verb::Get, "widgets", 1, makeError(ErrorKind::Transient, "down", 503));
  auto failed = run(fake_.get(kWidgets, "ns", "a", kScale));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::Transient);
  EXPECT_TRUE(run(fake_.get(kWidgets, "ns", "a")));
  EXPECT_EQ(fake_.calls(Verb::Get, "widgets"), 2);
  EXPECT_EQ(fake_.calls(Verb::Update, "widgets/status"), 3);
}

TEST_F(FakeApiServerTest, WriteHookSeesEveryWriteAndCanFailFromTheKth) {
  std::vector<std::string> seen;
  fake_.setWriteHook([&](const WriteRequest& request) -> std::optional<Error> {
    seen.push_back(fmt::format("{} {} {} {}", request.index, toString(request.verb),
                               request.resource, request.name));
    if (request.index >= 3) {
      return makeError(ErrorKind::Transient, "crashed");
    }
    return std::nullopt;
  });
  ASSERT_TRUE(create(kWidgets, widget("ns", "a")));
  ASSERT_TRUE(mergePatch(kWidgets, "a", R"({"status":{"x":1}})", kStatus));
  auto third = mergePatch(kWidgets, "a", R"({"spec":{"x":1}})");
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().message, "crashed");
  EXPECT_FALSE(run(fake_.remove(kWidgets, "ns", "a")));
  EXPECT_TRUE(run(fake_.get(kWidgets, "ns", "a"))) << "reads pass the hook by";
  fake_.put(kWidgets, widget("ns", "b"));  // helpers too
  EXPECT_EQ(seen, (std::vector<std::string>{"1 create widgets a", "2 patch widgets/status a",
                                            "3 patch widgets a", "4 delete widgets a"}));
  EXPECT_EQ(fake_.writes(Verb::Patch, "widgets"), 1) << "failed writes do not count";
  EXPECT_EQ(fake_.writes(Verb::Patch, "widgets/status"), 1);
  EXPECT_EQ(fake_.writes("widgets"), 2);
  EXPECT_EQ(fake_.writes(Verb::Delete, "widgets"), 0);
}

// --- Watches ---

class FakeWatchTest : public FakeApiServerTest {
 protected:
  // Starts a watch on the io thread; events and the end are collected for the test thread.
  struct Watch {
    std::mutex mutex;
    std::vector<WatchEvent> events;
    std::optional<Result<std::string>> ended;
    std::shared_ptr<http::StreamCancel> cancel = std::make_shared<http::StreamCancel>();

    size_t count() {
      std::lock_guard lock(mutex);
      return events.size();
    }
    std::vector<std::string> summary() {
      std::lock_guard lock(mutex);
      std::vector<std::string> out;
      for (const auto& event : events) {
        out.push_back(fmt::format("{} {}", kube::toString(event.type), kube::nameOf(event.object)));
      }
      return out;
    }
    bool done() {
      std::lock_guard lock(mutex);
      return ended.has_value();
    }
  };

  std::shared_ptr<Watch> startWatch(const ResourceType& type, std::string ns,
                                    kube::WatchOptions options) {
    auto watch = std::make_shared<Watch>();
    boost::asio::co_spawn(
        io_.io(),
        [this, watch, type, ns, options]() -> boost::asio::awaitable<void> {
          // Named, not temporaries: GCC 12 mishandles class temporaries inside co_await.
          std::function<void(WatchEvent &&)> onEvent = [watch](WatchEvent&& event) {
            std::lock_guard lock(watch->mutex);
            watch->events.push_back(std::move(event));
          };
          std::shared_ptr<http::StreamCancel> cancel = watch->cancel;
          auto ended = co_await fake_.watch(type, ns, options, std::move(onEvent), cancel);
          std::lock_guard lock(watch->mutex);
          watch->ended = std::move(ended);
        },
        boost::asio::detached);
    return watch;
  }

  bool waitFor(const std::function<bool()>& condition) {
    return e2e::pollUntil(condition, 5s, 1ms);
  }
};

TEST_F(FakeWatchTest, EventsAfterAVersionFilteredByNamespaceAndLabels) {
  fake_.put(kConfigMaps, labelled("ns", "before", {{"app", "web"}}));
  auto from = fake_.resourceVersion();
  kube::WatchOptions options;
  options.resourceVersion = from;
  options.labelSelector = "app=web";
  auto watch = startWatch(kConfigMaps, "ns", options);
  ASSERT_TRUE(waitFor([&] { return fake_.openWatches() == 1; }));

  ASSERT_TRUE(create(kConfigMaps, labelled("ns", "a", {{"app", "web"}})));
  ASSERT_TRUE(create(kConfigMaps, labelled("ns", "db", {{"app", "db"}})));     // not selected
  ASSERT_TRUE(create(kConfigMaps, labelled("other", "a", {{"app", "web"}})));  // other namespace
  ASSERT_TRUE(mergePatch(kConfigMaps, "a", R"({"data":{"k":"v"}})"));
  ASSERT_TRUE(mergePatch(kConfigMaps, "db", R"({"metadata":{"labels":{"app":"web"}}})"));
  ASSERT_TRUE(mergePatch(kConfigMaps, "before", R"({"metadata":{"labels":{"app":"api"}}})"));
  ASSERT_TRUE(run(fake_.remove(kConfigMaps, "ns", "a")));
  ASSERT_TRUE(waitFor([&] { return watch->count() == 5; })) << watch->count();
  EXPECT_EQ(watch->summary(), (std::vector<std::string>{"ADDED a", "MODIFIED a", "ADDED db",
                                                        "DELETED before", "DELETED a"}))
      << "an object entering the selector is ADDED, one leaving it DELETED";
  std::lock_guard lock(watch->mutex);
  int64_t previous = std::stoll(from);
  for (const auto& event : watch->events) {
    int64_t version = std::stoll(kube::resourceVersionOf(event.object));
    EXPECT_GT(version, previous) << "versions rise event by event";
    previous = version;
  }
  EXPECT_EQ(kube::resourceVersionOf(watch->events.back().object), fake_.resourceVersion())
      << "a DELETED event carries the delete's version";
}

TEST_F(FakeWatchTest, FromNothingStartsWithTheCurrentObjectsAsAdded) {
  fake_.put(kConfigMaps, configMap("ns", "a"));
  fake_.put(kConfigMaps, configMap("ns", "b"));
  auto watch = startWatch(kConfigMaps, "ns", {});
  ASSERT_TRUE(waitFor([&] { return watch->count() == 2; }));
  fake_.put(kConfigMaps, configMap("ns", "c"));
  ASSERT_TRUE(waitFor([&] { return watch->count() == 3; }));
  EXPECT_EQ(watch->summary(), (std::vector<std::string>{"ADDED a", "ADDED b", "ADDED c"}));
}

TEST_F(FakeWatchTest, ReplaysHistoryAfterAnOlderVersion) {
  fake_.put(kConfigMaps, configMap("ns", "earlier"));  // "0" would mean "any version"
  auto from = fake_.resourceVersion();
  fake_.put(kConfigMaps, configMap("ns", "a"));
  fake_.put(kConfigMaps, configMap("ns", "a", "v2"));
  ASSERT_TRUE(fake_.erase(kConfigMaps, "ns", "a"));
  kube::WatchOptions options;
  options.resourceVersion = from;
  auto watch = startWatch(kConfigMaps, "ns", options);
  ASSERT_TRUE(waitFor([&] { return watch->count() == 3; }));
  EXPECT_EQ(watch->summary(), (std::vector<std::string>{"ADDED a", "MODIFIED a", "DELETED a"}));
}

TEST_F(FakeWatchTest, EndsAfterTimeoutSecondsOfTheClockWithABookmark) {
  fake_.put(kConfigMaps, configMap("ns", "a"));
  kube::WatchOptions options;
  options.resourceVersion = fake_.resourceVersion();
  options.timeoutSeconds = 60;
  auto watch = startWatch(kConfigMaps, "ns", options);
  ASSERT_TRUE(waitFor([&] { return fake_.openWatches() == 1; }));
  fake_.put(kConfigMaps, configMap("other", "b"));  // moves the version, not for this watch
  clock_.advance(59s);
  // Ten ticks of the watch, and it has not ended early.
  EXPECT_FALSE(e2e::pollUntil([&] { return watch->done(); }, 50ms, 1ms));
  clock_.advance(1s);
  ASSERT_TRUE(waitFor([&] { return watch->done(); }));
  ASSERT_TRUE(*watch->ended) << watch->ended->error().describe();
  EXPECT_EQ(**watch->ended, fake_.resourceVersion()) << "resume from the bookmark's version";
  EXPECT_EQ(watch->summary(), (std::vector<std::string>{"BOOKMARK "}));
  EXPECT_EQ(fake_.openWatches(), 0);

  options.allowBookmarks = false;
  options.resourceVersion = fake_.resourceVersion();
  auto quiet = startWatch(kConfigMaps, "ns", options);
  ASSERT_TRUE(waitFor([&] { return fake_.openWatches() == 1; }));
  clock_.advance(60s);
  ASSERT_TRUE(waitFor([&] { return quiet->done(); }));
  EXPECT_EQ(quiet->count(), 0u);
}

TEST_F(FakeWatchTest, CancelEndsTheWatchWithAnError) {
  auto watch = startWatch(kConfigMaps, "ns", {});
  ASSERT_TRUE(waitFor([&] { return fake_.openWatches() == 1; }));
  watch->cancel->cancel();
  ASSERT_TRUE(waitFor([&] { return watch->done(); }));
  EXPECT_FALSE(*watch->ended);
  EXPECT_EQ(fake_.openWatches(), 0);
}

TEST_F(FakeWatchTest, DropWatchesEndsThemAndCompactionAnswersGone) {
  fake_.put(kConfigMaps, configMap("ns", "a"));
  kube::WatchOptions options;
  options.resourceVersion = fake_.resourceVersion();
  auto watch = startWatch(kConfigMaps, "ns", options);
  ASSERT_TRUE(waitFor([&] { return fake_.openWatches() == 1; }));
  fake_.put(kConfigMaps, configMap("ns", "b"));
  ASSERT_TRUE(waitFor([&] { return watch->count() == 1; }));
  fake_.dropWatches();
  ASSERT_TRUE(waitFor([&] { return watch->done(); }));
  ASSERT_TRUE(*watch->ended);
  std::string resumeFrom = **watch->ended;
  EXPECT_EQ(resumeFrom, fake_.resourceVersion()) << "the last version the watch saw";

  // Without compaction, the watch resumes where it was.
  options.resourceVersion = resumeFrom;
  auto resumed = startWatch(kConfigMaps, "ns", options);
  ASSERT_TRUE(waitFor([&] { return fake_.openWatches() == 1; }));
  fake_.dropWatches(true);
  ASSERT_TRUE(waitFor([&] { return resumed->done(); }));
  auto gone = startWatch(kConfigMaps, "ns", options);
  ASSERT_TRUE(waitFor([&] { return gone->done(); }));
  ASSERT_FALSE(*gone->ended);
  EXPECT_EQ(gone->ended->error().kind, ErrorKind::Gone);
  EXPECT_EQ(gone->ended->error().httpStatus, 410);
  EXPECT_EQ(fake_.goneAnswers(), 1);

  // A list answers a version a watch can start from.
  auto listed = list(kConfigMaps, "ns", {});
  ASSERT_TRUE(listed);
  options.resourceVersion = listed->resourceVersion;
  auto fresh = startWatch(kConfigMaps, "ns", options);
  ASSERT_TRUE(waitFor([&] { return fake_.openWatches() == 1; }));
  fake_.put(kConfigMaps, configMap("ns", "c"));
  ASSERT_TRUE(waitFor([&] { return fresh->count() == 1; }));
  EXPECT_FALSE(fresh->done());
}

TEST(FakeWatchHistoryTest, AVersionOlderThanTheKeptHistoryIsGone) {
  FakeClock clock;
  FakeApiServer fake(clock, FakeApiServerOptions{3});
  IoThread io;
  fake.put(kConfigMaps, configMap("ns", "first"));
  auto from = fake.resourceVersion();
  for (int i = 0; i < 5; ++i) {
    fake.put(kConfigMaps, configMap("ns", fmt::format("cm-{}", i)));
  }
  kube::WatchOptions options;
  options.resourceVersion = from;
  auto ended = io.run(fake.watch(kConfigMaps, "ns", options, [](WatchEvent&&) {}));
  ASSERT_FALSE(ended);
  EXPECT_EQ(ended.error().kind, ErrorKind::Gone);
  EXPECT_EQ(fake.goneAnswers(), 1);
}

TEST_F(FakeWatchTest, HelpersWriteAsTheApiDoes) {
  auto watch = startWatch(kWidgets, "ns", {});
  ASSERT_TRUE(waitFor([&] { return fake_.openWatches() == 1; }));
  auto stored = fake_.put(kWidgets, widget("ns", "a"));
  EXPECT_EQ(generationOf(stored), 1);
  auto status = fake_.editStatus(kWidgets, "ns", "a", [](json::object& s) { s["ready"] = 2; });
  ASSERT_TRUE(status);
  EXPECT_EQ(generationOf(*status), 1);
  auto unchanged = fake_.editStatus(kWidgets, "ns", "a", [](json::object& s) { s["ready"] = 2; });
  EXPECT_EQ(kube::resourceVersionOf(*unchanged), kube::resourceVersionOf(*status));
  auto respecced = fake_.put(kWidgets, widget("ns", "a", 5));
  EXPECT_EQ(generationOf(respecced), 2);
  EXPECT_EQ(kube::uidOf(respecced), kube::uidOf(stored));
  ASSERT_TRUE(fake_.erase(kWidgets, "ns", "a"));
  EXPECT_FALSE(fake_.erase(kWidgets, "ns", "a"));
  EXPECT_FALSE(fake_.editStatus(kWidgets, "ns", "a", [](json::object&) {}));
  ASSERT_TRUE(waitFor([&] { return watch->count() == 4; }));
  EXPECT_EQ(watch->summary(),
            (std::vector<std::string>{"ADDED a", "MODIFIED a", "MODIFIED a", "DELETED a"}));
  EXPECT_EQ(fake_.items(kWidgets).size(), 0u);
  EXPECT_EQ(fake_.writes("widgets"), 0) << "helpers are not API writes";
}

// --- The real informer on the fake ---

class InformerOnFakeTest : public FakeApiServerTest {
 protected:
  struct Seen {
    std::mutex mutex;
    std::set<std::string> added;
    std::set<std::string> updated;
    std::map<std::string, bool> deleted;  // name -> finalStateUnknown
  };

  // Runs an informer on the io thread until it goes out of scope.
  struct Running {
    kube::Informer& informer;
    std::future<void> done;
    ~Running() {
      informer.stop();
      done.wait_for(5s);
    }
  };

  std::unique_ptr<Running> start(kube::Informer& informer) {
    informer.addHandler({
        .onAdd =
            [this](const kube::ObjectPtr& object) {
              std::lock_guard lock(seen_.mutex);
              seen_.added.insert(kube::nameOf(*object));
            },
        .onUpdate =
            [this](const kube::ObjectPtr&, const kube::ObjectPtr& current) {
              std::lock_guard lock(seen_.mutex);
              seen_.updated.insert(kube::nameOf(*current));
            },
        .onDelete =
            [this](const kube::ObjectPtr& object, bool finalStateUnknown) {
              std::lock_guard lock(seen_.mutex);
              seen_.deleted[kube::nameOf(*object)] = finalStateUnknown;
            },
    });
    auto done = boost::asio::co_spawn(io_.io(), informer.run(), boost::asio::use_future);
    return std::unique_ptr<Running>(new Running{informer, std::move(done)});
  }

  // Whether the informer's cache holds exactly what the fake holds, version by version.
  bool inStep(kube::Informer& informer) {
    auto items = fake_.items(kConfigMaps, "ns");
    if (informer.store().size() != items.size()) {
      return false;
    }
    for (const auto& item : items) {
      auto cached = informer.store().get(kube::keyOf(item));
      if (!cached || kube::resourceVersionOf(*cached) != kube::resourceVersionOf(item)) {
        return false;
      }
    }
    return true;
  }

  bool waitFor(const std::function<bool()>& condition) {
    return e2e::pollUntil(condition, 5s, 1ms);
  }

  Seen seen_;
};

TEST_F(InformerOnFakeTest, SyncsFollowsWritesAndRelistsAfterACompactedWatch) {
  for (const char* name : {"a", "b", "c"}) {
    fake_.put(kConfigMaps, configMap("ns", name, "v1"));
  }
  fake_.put(kConfigMaps, configMap("other", "x"));
  kube::InformerOptions options;
  options.pageSize = 2;  // the list pages
  kube::Informer informer(fake_, kConfigMaps, "ns", options);
  auto running = start(informer);
  ASSERT_TRUE(waitFor([&] { return informer.hasSynced() && inStep(informer); }));
  EXPECT_EQ(informer.store().size(), 3u);
  EXPECT_EQ(informer.lists(), 1);

  // API writes and helper writes reach the cache through the watch.
  ASSERT_TRUE(create(kConfigMaps, configMap("ns", "d")));
  ASSERT_TRUE(mergePatch(kConfigMaps, "a", R"({"data":{"value":"v2"}})"));
  ASSERT_TRUE(run(fake_.remove(kConfigMaps, "ns", "b")));
  fake_.put(kConfigMaps, configMap("ns", "e"));
  ASSERT_TRUE(waitFor([&] { return inStep(informer); }));
  EXPECT_EQ(stringAt(objectAt(*informer.store().get("ns/a"), "data"), "value"), "v2");
  {
    std::lock_guard lock(seen_.mutex);
    EXPECT_EQ(seen_.added, (std::set<std::string>{"a", "b", "c", "d", "e"}));
    EXPECT_EQ(seen_.updated, (std::set<std::string>{"a"}));
    EXPECT_EQ(seen_.deleted, (std::map<std::string, bool>{{"b", false}}));
  }

  // The watch is dropped and, just as the informer resumes it, "c" is deleted and the history
  // compacted: the resume answers Gone, and only the relist can tell that "c" went.
  bool armed = true;
  std::mutex armedMutex;
  fake_.setCallHook([&](Verb verb, std::string_view resource) {
    std::lock_guard lock(armedMutex);
    if (verb == Verb::Watch && resource == "configmaps" && armed) {
      armed = false;
      ASSERT_TRUE(fake_.erase(kConfigMaps, "ns", "c"));
      fake_.dropWatches(true);
    }
  });
  fake_.dropWatches();
  ASSERT_TRUE(waitFor([&] { return informer.lists() == 2 && inStep(informer); }))
      << "lists " << informer.lists();
  EXPECT_EQ(fake_.goneAnswers(), 1);
  EXPECT_FALSE(informer.store().get("ns/c"));
  {
    std::lock_guard lock(seen_.mutex);
    ASSERT_EQ(seen_.deleted.count("c"), 1u);
    EXPECT_TRUE(seen_.deleted["c"]) << "noticed at the relist, a tombstone";
  }
  fake_.setCallHook({});

  // And it watches again from the relist's version.
  ASSERT_TRUE(create(kConfigMaps, configMap("ns", "f")));
  ASSERT_TRUE(waitFor([&] { return inStep(informer); }));
  EXPECT_EQ(informer.lists(), 2);
  running.reset();
  EXPECT_EQ(fake_.openWatches(), 0);
}

TEST_F(InformerOnFakeTest, RetriesAWatchThatFails) {
  fake_.put(kConfigMaps, configMap("ns", "a"));
  fake_.failNext(Verb::Watch, "configmaps", 1, makeError(ErrorKind::Transient, "down", 503));
  kube::InformerOptions options;
  options.minBackoff = 1ms;
  kube::Informer informer(fake_, kConfigMaps, "ns", options);
  auto running = start(informer);
  ASSERT_TRUE(waitFor([&] { return informer.hasSynced() && fake_.openWatches() == 1; }));
  fake_.put(kConfigMaps, configMap("ns", "b"));
  ASSERT_TRUE(waitFor([&] { return inStep(informer); }));
  EXPECT_EQ(fake_.calls(Verb::Watch, "configmaps"), 2);
  EXPECT_EQ(informer.lists(), 1) << "a failed watch resumes without a relist";
}

// The real controller too: primaries and the owners of owned objects reach the reconciler.
class CountingReconciler final : public kube::Reconciler {
 public:
  boost::asio::awaitable<Result<kube::ReconcileResult>> reconcile(
      const kube::ReconcileRequest& request) override {
    std::lock_guard lock(mutex_);
    ++counts_[request.key()];
    co_return kube::ReconcileResult{};
  }
  int count(const std::string& key) {
    std::lock_guard lock(mutex_);
    return counts_[key];
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> counts_;
};

TEST_F(FakeApiServerTest, ControllerRunsOnTheFake) {
  CountingReconciler reconciler;
  kube::Controller controller("widgets", fake_, kWidgets, "Widget", "ns", reconciler, {});
  controller.watchOwned(kConfigMaps);
  auto done = boost::asio::co_spawn(io_.io(), controller.run(), boost::asio::use_future);
  auto owner = fake_.put(kWidgets, widget("ns", "a"));
  ASSERT_TRUE(e2e::pollUntil([&] { return reconciler.count("ns/a") == 1; }, 5s, 1ms));
  auto owned = configMap("ns", "a-config");
  owned["metadata"].as_object()["ownerReferences"] =
      json::array{kube::controllerReference("example.com/v1", "Widget", "a", kube::uidOf(owner))};
  ASSERT_TRUE(create(kConfigMaps, owned));
  EXPECT_TRUE(e2e::pollUntil([&] { return reconciler.count("ns/a") == 2; }, 5s, 1ms))
      << "an owned object's change requeues its owner";
  EXPECT_EQ(reconciler.count("ns/a-config"), 0);
  controller.stop();
  EXPECT_EQ(done.wait_for(5s), std::future_status::ready);
}

}  // namespace
}  // namespace mc::test
