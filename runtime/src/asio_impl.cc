// The one translation unit that compiles Asio, SSL and Beast (BOOST_*_SEPARATE_COMPILATION):
// every other file includes their headers only, which keeps a rebuild on two cores short.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
