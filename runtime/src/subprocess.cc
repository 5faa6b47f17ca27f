#include "mc/runtime/subprocess.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

extern char** environ;

namespace mc {
namespace {

constexpr size_t kMaxOutputBytes = 16u << 20;  // a credential is a few KiB; stop a runaway child

// A pipe whose ends close themselves.
struct Pipe {
  int fd[2] = {-1, -1};
  bool open() { return ::pipe2(fd, O_CLOEXEC) == 0; }
  void close(int end) {
    if (fd[end] >= 0) {
      ::close(fd[end]);
      fd[end] = -1;
    }
  }
  ~Pipe() {
    close(0);
    close(1);
  }
};

std::vector<std::string> environmentWith(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq != entry.npos) {
      merged[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    }
  }
  for (const auto& [name, value] : extra) {
    merged[name] = value;
  }
  std::vector<std::string> out;
  for (const auto& [name, value] : merged) {
    out.push_back(name + "=" + value);
  }
  return out;
}

std::vector<char*> pointersTo(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}

}  // namespace

std::filesystem::path findProgram(const std::string& command,
                                  const std::filesystem::path& baseDir) {
  auto executable = [](const std::filesystem::path& p) {
    std::error_code ec;
    return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (command.empty()) {
    return {};
  }
  if (command.find('/') != std::string::npos) {
    std::filesystem::path path(command);
    if (path.is_relative()) {
      path = baseDir / path;
    }
    return executable(path) ? path : std::filesystem::path();
  }
  const char* searchPath = std::getenv("PATH");
  std::string_view dirs(searchPath != nullptr ? searchPath : "/usr/local/bin:/usr/bin:/bin");
  while (true) {
    auto colon = dirs.find(':');
    auto dir = dirs.substr(0, colon);
    auto candidate = std::filesystem::path(dir.empty() ? "." : std::string(dir)) / command;
    if (executable(candidate)) {
      return candidate;
    }
    if (colon == dirs.npos) {
      return {};
    }
    dirs.remove_prefix(colon + 1);
  }
}

Result<SubprocessResult> runSubprocess(const SubprocessOptions& options) {
  const auto name = options.program.string();
  Pipe out, err;
  if (!out.open() || (!options.interactive && !err.open())) {
    return makeError(ErrorKind::Transient, fmt::format("{}: pipe: {}", name, std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], STDOUT_FILENO);
  if (!options.interactive) {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, err.fd[1], STDERR_FILENO);
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // A group of its own, so a timeout kills what the program started too. An interactive child
  // stays in ours: it may need the terminal's foreground group to read a password.
  if (!options.interactive) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }

  std::vector<std::string> argv{name};
  argv.insert(argv.end(), options.args.begin(), options.args.end());
  auto envp = environmentWith(options.env);
  auto argvPointers = pointersTo(argv);
  auto envPointers = pointersTo(envp);
  pid_t pid = -1;
  int spawned =
      posix_spawn(&pid, name.c_str(), &actions, &attr, argvPointers.data(), envPointers.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawned != 0) {
    return makeError(ErrorKind::NotFound,
                     fmt::format("{}: cannot be started: {}", name, std::strerror(spawned)));
  }
  out.close(1);
  err.close(1);

  SubprocessResult result;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  std::array<char, 4096> buffer;
  bool timedOut = false;
  while (out.fd[0] >= 0 || err.fd[0] >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    std::array<pollfd, 2> fds{pollfd{out.fd[0], POLLIN, 0}, pollfd{err.fd[0], POLLIN, 0}};
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      break;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      auto& sink = i == 0 ? result.out : result.err;
      if (n > 0 && sink.size() < kMaxOutputBytes) {
        sink.append(buffer.data(), static_cast<size_t>(n));
      } else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        (i == 0 ? out : err).close(0);
      }
    }
  }
  if (timedOut) {
    ::kill(options.interactive ? pid : -pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut) {
    return makeError(ErrorKind::Timeout,
                     fmt::format("{} did not finish within {} ms and was killed", name,
                                 options.timeout.count()));
  }
  result.exitCode = exitCodeOf(status);
  return result;
}

}  // namespace mc
