/*
 * PKCS#10 (RFC 2986) and SubjectPublicKeyInfo as OpenSSL ASN.1 templates that keep the public
 * key encoded: OpenSSL 3.0's X509_REQ and X509_PUBKEY decode the key with the decoder
 * framework as they are read, which costs more than the rest of an enrollment's parsing.
 * Written in C because the asn1t.h template macros are C.
 */
#ifndef ENROLLD_PKCS10_ASN1_H
#define ENROLLD_PKCS10_ASN1_H

#include <openssl/asn1.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SubjectPublicKeyInfo as its two fields: decoding it does not decode the key. */
typedef struct enrolld_spki_st {
  X509_ALGOR *algorithm;
  ASN1_BIT_STRING *subjectPublicKey;
} ENROLLD_SPKI;
DECLARE_ASN1_FUNCTIONS(ENROLLD_SPKI)

/* CertificationRequestInfo, with the bytes it arrived as (what the signature covers). */
typedef struct enrolld_p10_info_st {
  ASN1_ENCODING enc;
  ASN1_INTEGER *version;
  X509_NAME *subject;
  ENROLLD_SPKI *subjectPKInfo;
  STACK_OF(X509_ATTRIBUTE) *attributes; /* [0] IMPLICIT SET OF Attribute */
} ENROLLD_P10_INFO;
DECLARE_ASN1_FUNCTIONS(ENROLLD_P10_INFO)

/* CertificationRequest */
typedef struct enrolld_p10_st {
  ENROLLD_P10_INFO *info;
  X509_ALGOR *signatureAlgorithm;
  ASN1_BIT_STRING *signature;
} ENROLLD_P10;
DECLARE_ASN1_FUNCTIONS(ENROLLD_P10)

#ifdef __cplusplus
}
#endif

#endif
