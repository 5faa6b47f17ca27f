#pragma once

// The fixtures under tests/signing/testdata: files the real cosign wrote (their README says how).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mc::signing {

inline std::string readTestdata(const std::string& relative) {
  std::filesystem::path path = std::filesystem::path(MC_SIGNING_TESTDATA) / relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path.string());
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace mc::signing
