/*
 * PBMAC1-params (RFC 8018 A.5) as an OpenSSL ASN.1 template. OpenSSL 3.0 decodes the
 * PBKDF2-params inside it (PBKDF2PARAM in <openssl/x509.h>) but has no type for PBMAC1-params
 * itself, which enrolld must decode to check the limits before running the KDF.
 * Written in C because the asn1t.h template macros are C.
 */
#ifndef ENROLLD_PBMAC1_ASN1_H
#define ENROLLD_PBMAC1_ASN1_H

#include <openssl/asn1.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PBMAC1-params ::= SEQUENCE {
 *     keyDerivationFunc AlgorithmIdentifier {{PBMAC1-KDFs}},
 *     messageAuthScheme AlgorithmIdentifier {{PBMAC1-MACs}} } */
typedef struct ecmp_pbmac1param_st {
  X509_ALGOR* keyDerivationFunc;
  X509_ALGOR* messageAuthScheme;
} ECMP_PBMAC1PARAM;
DECLARE_ASN1_FUNCTIONS(ECMP_PBMAC1PARAM)

#ifdef __cplusplus
}
#endif

#endif
