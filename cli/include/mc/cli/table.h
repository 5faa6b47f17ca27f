#pragma once

#include <string>
#include <vector>

namespace mc::cli {

// Columns padded to their widest cell, `gap` spaces apart, the last column unpadded: kubectl get
// puts three spaces between columns, kubectl describe's tables two.
std::string table(const std::vector<std::vector<std::string>>& rows, size_t gap);

}  // namespace mc::cli
