#include <gtest/gtest.h>

// Integration tests start the real part they need (Prometheus, docker-registry) per test suite.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
