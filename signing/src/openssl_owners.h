#pragma once

// Owners of the OpenSSL objects that more than one file of signing/src holds, and the guard that
// clears OpenSSL's error queue. Private to signing/src: no OpenSSL type reaches a public header.
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

namespace mc::signing {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct X509StoreFree {
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
};
struct OpensslFree {
  void operator()(void* memory) const { OPENSSL_free(memory); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using X509StorePtr = std::unique_ptr<X509_STORE, X509StoreFree>;
template <class T>
using OpensslPtr = std::unique_ptr<T, OpensslFree>;

// OpenSSL keeps failures on a per-thread queue; a refusal must not leave them for the next user
// of the thread (a TLS handshake on the io thread would report them as its own).
struct ClearErrorsOnExit {
  ~ClearErrorsOnExit() { ERR_clear_error(); }
};

}  // namespace mc::signing
