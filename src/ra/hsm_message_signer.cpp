#include "ra/hsm_message_signer.h"

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "common/openssl_util.h"

namespace enrolld::ra {

namespace {

// The AlgorithmIdentifier of signatures made with `key` and `digest`: ecdsa-with-SHA256 and
// friends carry no parameters (RFC 5758 3.2); sha256WithRSAEncryption carries NULL (RFC 4055).
Bytes signature_algorithm(::EVP_PKEY* key, const ::EVP_MD* digest) {
  int nid = NID_undef;
  const int key_type = ::EVP_PKEY_get_base_id(key);
  if (::OBJ_find_sigid_by_algs(&nid, ::EVP_MD_get_type(digest), key_type) != 1) return {};
  std::unique_ptr<::X509_ALGOR, ossl::Deleter<::X509_ALGOR_free>> algorithm(::X509_ALGOR_new());
  ::X509_ALGOR_set0(algorithm.get(), ::OBJ_nid2obj(nid), key_type == EVP_PKEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF,
                    nullptr);
  return ossl::der_with(algorithm.get(), ::i2d_X509_ALGOR);
}

}  // namespace

HsmMessageSigner::HsmMessageSigner(const hsm::Signer& signer, std::vector<Bytes> chain)
    : m_signer(signer),
      m_chain(std::move(chain)),
      m_algorithm(signature_algorithm(signer.public_key(), signer.digest())) {
  if (m_chain.empty()) return;
  if (auto own = ossl::x509_from_der(m_chain.front())) {
    const ::ASN1_OCTET_STRING* ski = ::X509_get0_subject_key_id(own->get());
    if (ski != nullptr) m_key_identifier.assign(ski->data, ski->data + ski->length);
  }
}

}  // namespace enrolld::ra
