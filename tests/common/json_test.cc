#include "mc/common/json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mc {
namespace {

namespace json = boost::json;

const json::value kPod = json::parse(R"({
  "metadata": {"name": "web-1", "labels": {"app": "web"}, "generation": 3},
  "spec": {"containers": [{"name": "app"}], "replicas": "three"},
  "status": null
})");

TEST(JsonTest, FieldsThatExistAreRead) {
  const auto& pod = kPod.as_object();
  EXPECT_EQ(stringAt(objectAt(pod, "metadata"), "name"), "web-1");
  EXPECT_EQ(stringAt(objectAt(objectAt(pod, "metadata"), "labels"), "app"), "web");
  EXPECT_EQ(intAt(objectAt(pod, "metadata"), "generation", -1), 3);
  ASSERT_NE(arrayAt(objectAt(pod, "spec"), "containers"), nullptr);
  EXPECT_EQ(arrayAt(objectAt(pod, "spec"), "containers")->size(), 1u);
  EXPECT_EQ(stringAt(kPod, {"metadata", "labels", "app"}), "web");
  EXPECT_EQ(intAt(kPod, {"metadata", "generation"}, -1), 3);
  // An object with a braced path picks the path accessors, not the one-key ones.
  EXPECT_EQ(stringAt(pod, {"metadata", "labels", "app"}), "web");
  EXPECT_EQ(intAt(pod, {"metadata", "generation"}, -1), 3);
  EXPECT_EQ(stringAt(pod, {"metadata"}), "") << "an object, not a string";
}

TEST(JsonTest, AbsentNullOrMistypedFieldsReadAsAbsent) {
  const auto& pod = kPod.as_object();
  EXPECT_EQ(objectAt(pod, "status"), nullptr);                       // null
  EXPECT_EQ(objectAt(objectAt(pod, "status"), "phase"), nullptr);    // through a null
  EXPECT_EQ(stringAt(objectAt(pod, "nothing"), "name"), "");         // absent parent
  EXPECT_EQ(intAt(objectAt(pod, "spec"), "replicas", 7), 7);         // a string, not a number
  EXPECT_EQ(arrayAt(pod, "metadata"), nullptr);                      // an object, not an array
  EXPECT_EQ(stringAt(objectAt(pod, "metadata"), "generation"), "");  // a number, not a string
  EXPECT_EQ(valueAt(kPod, {"metadata", "name", "deeper"}), nullptr);
  EXPECT_EQ(intAt(kPod, {"status", "replicas"}, -1), -1);
  EXPECT_EQ(intAt(json::parse(R"({"n": 1.5e30})"), {"n"}, -1), -1);  // does not fit
}

TEST(JsonTest, EnsureObjectMakesOrKeepsAnObject) {
  json::object patch{{"metadata", {{"name", "web"}}}, {"spec", 5}};
  ensureObject(ensureObject(patch, "metadata"), "labels")["app"] = "web";
  ensureObject(patch, "spec")["replicas"] = 2;
  EXPECT_EQ(json::serialize(patch),
            R"({"metadata":{"name":"web","labels":{"app":"web"}},"spec":{"replicas":2}})");
}

}  // namespace
}  // namespace mc
