#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <optional>
#include <thread>

#include "mc/runtime/logging.h"

namespace mc::test {

// An io_context run by a background thread, for tests that drive coroutines from the test
// thread: run() waits for one coroutine's result; spawned ones keep running until destruction.
class IoThread {
 public:
  IoThread() : thread_(start()) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  boost::asio::io_context& io() { return io_; }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }

  template <class T>
  T run(boost::asio::awaitable<T> awaitable) {
    return boost::asio::co_spawn(io_, std::move(awaitable), boost::asio::use_future).get();
  }

 private:
  // Logging is set up before the thread starts: a setup made later, while the thread logs,
  // would replace spdlog's default logger under it.
  std::thread start() {
    logging::ensureSetup();
    return std::thread([this] { io_.run(); });
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::thread thread_;
};

}  // namespace mc::test
