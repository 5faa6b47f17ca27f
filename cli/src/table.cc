#include "mc/cli/table.h"

#include <fmt/format.h>

#include <algorithm>

namespace mc::cli {

std::string table(const std::vector<std::vector<std::string>>& rows, size_t gap) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += i + 1 < row.size() ? fmt::format("{:<{}}", row[i], widths[i] + gap) : row[i];
    }
    out += "\n";
  }
  return out;
}

}  // namespace mc::cli
