#include "mc/runtime/http.h"

#include <boost/algorithm/string/predicate.hpp>

namespace mc::http {

std::string Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (boost::algorithm::iequals(key, name)) {
      return value;
    }
  }
  return {};
}

}  // namespace mc::http
