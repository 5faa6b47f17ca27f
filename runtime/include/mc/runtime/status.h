#pragma once

#include <cstdint>
#include <string_view>

#include "mc/common/error.h"

namespace mc::kube {

// The ErrorKind a metav1.Status means: its reason when it has a known one (more precise), else
// its code. Shared by error responses and ERROR watch events.
ErrorKind errorKindOf(std::string_view reason, int64_t code);

}  // namespace mc::kube
