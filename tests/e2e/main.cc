#include <gtest/gtest.h>

#include "mc/e2e/controlplane.h"

// One local control plane for the whole binary; tests isolate themselves by namespace.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new mc::e2e::ControlPlaneEnvironment);
  return RUN_ALL_TESTS();
}
