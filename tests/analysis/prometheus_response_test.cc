// Every answer Prometheus's query API can give, and what MC makes of it (docs/analysis.md).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>

#include "../../analysis/providers/prometheus/prometheus.h"

namespace mc::analysis::prometheus {
namespace {

using Kind = Observation::Kind;

http::Response answer(int status, std::string body) {
  http::Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

TEST(PrometheusResponseTest, EachAnswerIsAValueInconclusiveOrError) {
  struct Case {
    const char* name;
    int status;
    const char* body;
    Kind kind;
    double value;           // for Kind::Value
    const char* inMessage;  // a part of the message
  };
  const Case cases[] = {
      {"a vector of one series", 200,
       R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1733130000.1,"0.25"]}]}})",
       Kind::Value, 0.25, ""},
      {"a scalar", 200,
       R"({"status":"success","data":{"resultType":"scalar","result":[1733130000,"1.5"]}})",
       Kind::Value, 1.5, ""},
      {"a matrix: the last sample of its one series", 200,
       R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"0.1"],[2,"0.3"]]}]}})",
       Kind::Value, 0.3, ""},
      {"exponent notation", 200,
       R"({"status":"success","data":{"resultType":"scalar","result":[1,"2.5e-3"]}})", Kind::Value,
       0.0025, ""},
      {"an empty vector is no data", 200,
       R"({"status":"success","data":{"resultType":"vector","result":[]}})", Kind::Inconclusive, 0,
       "empty result"},
      {"a matrix series without samples", 200,
       R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[]}]}})",
       Kind::Inconclusive, 0, "no series with a sample"},
      {"several series where one was expected", 200,
       R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"0.1"]},{"metric":{"pod":"b"},"value":[1,"0.2"]},{"metric":{"pod":"c"},"value":[1,"0.3"]}]}})",
       Kind::Inconclusive, 0, "3 series"},
      {"status error with its HTTP 400", 400,
       R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"})",
       Kind::Error, 0, "bad_data: 1:5: parse error"},
      {"status error on a 422 (execution)", 422,
       R"({"status":"error","errorType":"execution","error":"many-to-many matching not allowed"})",
       Kind::Error, 0, "HTTP 422: execution"},
      {"status error on a 503 (timeout)", 503,
       R"({"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"})",
       Kind::Error, 0, "timeout"},
      {"a non-200 that is not the API (a proxy's page)", 502, "<html>Bad Gateway</html>",
       Kind::Error, 0, "HTTP 502: <html>Bad Gateway"},
      {"a 200 that is not JSON", 200, "<html>login</html>", Kind::Error, 0, "not JSON"},
      {"a 200 that is JSON but not an object", 200, "[1,2]", Kind::Error, 0, "not a JSON object"},
      {"a 200 without status", 200, R"({"data":{}})", Kind::Error, 0, "neither success nor error"},
      {"success without data", 200, R"({"status":"success"})", Kind::Error, 0, "no data"},
      {"success without result", 200, R"({"status":"success","data":{"resultType":"vector"}})",
       Kind::Error, 0, "no data.result"},
      {"a sample whose value is a number, not a string", 200,
       R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,0.5]}]}})",
       Kind::Error, 0, "[time, \"number\"]"},
      {"a sample whose value is not a number", 200,
       R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}})",
       Kind::Error, 0, "[time, \"number\"]"},
      {"a truncated body", 200, R"({"status":"success","data":{"resultType":"vec)", Kind::Error, 0,
       "not JSON"},
      {"a string result", 200,
       R"({"status":"success","data":{"resultType":"string","result":[1,"hello"]}})", Kind::Error,
       0, "a string, not a number"},
      {"an unknown resultType", 200,
       R"({"status":"success","data":{"resultType":"histogram","result":[]}})", Kind::Error, 0,
       "unknown resultType"},
      {"a vector series without value", 200,
       R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
       Kind::Error, 0, "without a value"},
  };
  for (const auto& c : cases) {
    auto observation = parseResponse(answer(c.status, c.body));
    EXPECT_EQ(observation.kind, c.kind) << c.name << ": " << observation.message;
    if (c.kind == Kind::Value) {
      EXPECT_DOUBLE_EQ(observation.value, c.value) << c.name;
    } else {
      EXPECT_NE(observation.message.find(c.inMessage), std::string::npos)
          << c.name << ": " << observation.message;
    }
  }
}

TEST(PrometheusResponseTest, NaNAndInfinitiesAreValuesTheEvaluatorCallsInconclusive) {
  for (const char* text : {"NaN", "+Inf", "-Inf"}) {
    std::string body =
        std::string(R"({"status":"success","data":{"resultType":"scalar","result":[1,")") + text +
        R"("]}})";
    auto observation = parseResponse(answer(200, body));
    ASSERT_EQ(observation.kind, Kind::Value) << text;
    EXPECT_FALSE(std::isfinite(observation.value)) << text;
  }
}

}  // namespace
}  // namespace mc::analysis::prometheus
