/* ASN.1 template for protocols/cmp/pbmac1_asn1.h. */
#include "protocols/cmp/pbmac1_asn1.h"

#include <openssl/asn1t.h>

ASN1_SEQUENCE(ECMP_PBMAC1PARAM) = {
  ASN1_SIMPLE(ECMP_PBMAC1PARAM, keyDerivationFunc, X509_ALGOR),
  ASN1_SIMPLE(ECMP_PBMAC1PARAM, messageAuthScheme, X509_ALGOR)
} ASN1_SEQUENCE_END(ECMP_PBMAC1PARAM)
IMPLEMENT_ASN1_FUNCTIONS(ECMP_PBMAC1PARAM)
