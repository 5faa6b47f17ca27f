#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mc/common/error.h"

namespace mc {

struct SubprocessOptions {
  std::filesystem::path program;  // an absolute path (see findProgram)
  std::vector<std::string> args;  // after argv[0]
  // Added to (or replacing entries of) this process's environment.
  std::vector<std::pair<std::string, std::string>> env;
  // Interactive: the child shares this process's stdin and stderr (so it can prompt a person);
  // otherwise its stdin is /dev/null and its stderr is captured.
  bool interactive = false;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

struct SubprocessResult {
  int exitCode = 0;  // 128 + the signal when it was killed by one
  std::string out;
  std::string err;  // empty when interactive
};

// Runs a program to its end and collects what it printed. Blocking: call it off the io threads.
// A program still running at the timeout is killed with its process group (children included)
// and the result is a Timeout error; a program that cannot be started is NotFound.
Result<SubprocessResult> runSubprocess(const SubprocessOptions& options);

// Where execvp would find `command`: a name is looked up on $PATH, a path with a '/' is taken
// relative to `baseDir`. Empty if there is no executable file there.
std::filesystem::path findProgram(const std::string& command, const std::filesystem::path& baseDir);

}  // namespace mc
