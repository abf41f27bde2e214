/*
 * CMP (RFC 4210 as updated by RFC 9480) message structures as OpenSSL ASN.1 templates.
 * OpenSSL 3.0 keeps its own CMP structures opaque and its server context cannot be restored
 * for a persisted transaction, so enrolld decodes and encodes PKIMessages itself, on the public
 * ASN.1 API, reusing OpenSSL's public CRMF CertId and X.509 types.
 * Written in C because the asn1t.h template macros are C.
 */
#ifndef ENROLLD_CMP_ASN1_H
#define ENROLLD_CMP_ASN1_H

#include <openssl/asn1.h>
#include <openssl/crmf.h>
#include <openssl/safestack.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/pkcs10_asn1.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PKIBody alternatives, by context tag (RFC 4210 5.1.2). */
enum {
  ECMP_BODY_IR = 0, ECMP_BODY_IP = 1, ECMP_BODY_CR = 2, ECMP_BODY_CP = 3, ECMP_BODY_P10CR = 4,
  ECMP_BODY_POPDECC = 5, ECMP_BODY_POPDECR = 6, ECMP_BODY_KUR = 7, ECMP_BODY_KUP = 8,
  ECMP_BODY_KRR = 9, ECMP_BODY_KRP = 10, ECMP_BODY_RR = 11, ECMP_BODY_RP = 12, ECMP_BODY_CCR = 13,
  ECMP_BODY_CCP = 14, ECMP_BODY_CKUANN = 15, ECMP_BODY_CANN = 16, ECMP_BODY_RANN = 17,
  ECMP_BODY_CRLANN = 18, ECMP_BODY_PKICONF = 19, ECMP_BODY_NESTED = 20, ECMP_BODY_GENM = 21,
  ECMP_BODY_GENP = 22, ECMP_BODY_ERROR = 23, ECMP_BODY_CERTCONF = 24, ECMP_BODY_POLLREQ = 25,
  ECMP_BODY_POLLREP = 26
};

/* InfoTypeAndValue */
typedef struct ecmp_itav_st {
  ASN1_OBJECT *infoType;
  ASN1_TYPE *infoValue; /* OPTIONAL */
} ECMP_ITAV;
DEFINE_STACK_OF(ECMP_ITAV)
DECLARE_ASN1_FUNCTIONS(ECMP_ITAV)

/* PKIHeader */
typedef struct ecmp_header_st {
  ASN1_INTEGER *pvno;
  GENERAL_NAME *sender;
  GENERAL_NAME *recipient;
  ASN1_GENERALIZEDTIME *messageTime;   /* [0] OPTIONAL */
  X509_ALGOR *protectionAlg;           /* [1] OPTIONAL */
  ASN1_OCTET_STRING *senderKID;        /* [2] OPTIONAL */
  ASN1_OCTET_STRING *recipKID;         /* [3] OPTIONAL */
  ASN1_OCTET_STRING *transactionID;    /* [4] OPTIONAL */
  ASN1_OCTET_STRING *senderNonce;      /* [5] OPTIONAL */
  ASN1_OCTET_STRING *recipNonce;       /* [6] OPTIONAL */
  STACK_OF(ASN1_UTF8STRING) *freeText; /* [7] OPTIONAL */
  STACK_OF(ECMP_ITAV) *generalInfo;    /* [8] OPTIONAL */
} ECMP_HEADER;
DECLARE_ASN1_FUNCTIONS(ECMP_HEADER)

/* PKIStatusInfo */
typedef struct ecmp_pkisi_st {
  ASN1_INTEGER *status;
  STACK_OF(ASN1_UTF8STRING) *statusString; /* OPTIONAL */
  ASN1_BIT_STRING *failInfo;               /* OPTIONAL */
} ECMP_PKISI;
DECLARE_ASN1_FUNCTIONS(ECMP_PKISI)

/* CertOrEncCert */
typedef struct ecmp_certorenccert_st {
  int type; /* 0: certificate, 1: encryptedCert */
  union {
    X509 *certificate;
    ASN1_TYPE *encryptedCert;
  } value;
} ECMP_CERTORENCCERT;
DECLARE_ASN1_FUNCTIONS(ECMP_CERTORENCCERT)

/* CertifiedKeyPair */
typedef struct ecmp_certifiedkeypair_st {
  ECMP_CERTORENCCERT *certOrEncCert;
  ASN1_TYPE *privateKey;      /* [0] EncryptedKey OPTIONAL */
  ASN1_TYPE *publicationInfo; /* [1] PKIPublicationInfo OPTIONAL */
} ECMP_CERTIFIEDKEYPAIR;
DECLARE_ASN1_FUNCTIONS(ECMP_CERTIFIEDKEYPAIR)

/* CertResponse */
typedef struct ecmp_certresponse_st {
  ASN1_INTEGER *certReqId;
  ECMP_PKISI *status;
  ECMP_CERTIFIEDKEYPAIR *certifiedKeyPair; /* OPTIONAL */
  ASN1_OCTET_STRING *rspInfo;              /* OPTIONAL */
} ECMP_CERTRESPONSE;
DEFINE_STACK_OF(ECMP_CERTRESPONSE)
DECLARE_ASN1_FUNCTIONS(ECMP_CERTRESPONSE)

/* CertRepMessage */
typedef struct ecmp_certrepmessage_st {
  STACK_OF(X509) *caPubs; /* [1] OPTIONAL */
  STACK_OF(ECMP_CERTRESPONSE) *response;
} ECMP_CERTREPMESSAGE;
DECLARE_ASN1_FUNCTIONS(ECMP_CERTREPMESSAGE)

/* CertStatus (RFC 9480 adds hashAlg) */
typedef struct ecmp_certstatus_st {
  ASN1_OCTET_STRING *certHash;
  ASN1_INTEGER *certReqId;
  ECMP_PKISI *statusInfo; /* OPTIONAL */
  X509_ALGOR *hashAlg;    /* [0] OPTIONAL */
} ECMP_CERTSTATUS;
DEFINE_STACK_OF(ECMP_CERTSTATUS)
DECLARE_ASN1_FUNCTIONS(ECMP_CERTSTATUS)

/* ErrorMsgContent */
typedef struct ecmp_errormsg_st {
  ECMP_PKISI *pKIStatusInfo;
  ASN1_INTEGER *errorCode;                 /* OPTIONAL */
  STACK_OF(ASN1_UTF8STRING) *errorDetails; /* OPTIONAL */
} ECMP_ERRORMSG;
DECLARE_ASN1_FUNCTIONS(ECMP_ERRORMSG)

/* PollReqContent element */
typedef struct ecmp_pollreq_st {
  ASN1_INTEGER *certReqId;
} ECMP_POLLREQ;
DEFINE_STACK_OF(ECMP_POLLREQ)
DECLARE_ASN1_FUNCTIONS(ECMP_POLLREQ)

/* PollRepContent element */
typedef struct ecmp_pollrep_st {
  ASN1_INTEGER *certReqId;
  ASN1_INTEGER *checkAfter;
  STACK_OF(ASN1_UTF8STRING) *reason; /* OPTIONAL */
} ECMP_POLLREP;
DEFINE_STACK_OF(ECMP_POLLREP)
DECLARE_ASN1_FUNCTIONS(ECMP_POLLREP)

/* RevDetails (RFC 4210 5.3.9) */
typedef struct ecmp_certtemplate_st ECMP_CERTTEMPLATE;
typedef struct ecmp_revdetails_st {
  ECMP_CERTTEMPLATE *certDetails;
  STACK_OF(X509_EXTENSION) *crlEntryDetails; /* OPTIONAL */
} ECMP_REVDETAILS;
DEFINE_STACK_OF(ECMP_REVDETAILS)
DECLARE_ASN1_FUNCTIONS(ECMP_REVDETAILS)

/* RevRepContent (RFC 4210 5.3.10) */
DEFINE_STACK_OF(ECMP_PKISI)
typedef struct ecmp_revrepcontent_st {
  STACK_OF(ECMP_PKISI) *status;
  STACK_OF(OSSL_CRMF_CERTID) *revCerts; /* [0] OPTIONAL */
  STACK_OF(X509_CRL) *crls;             /* [1] OPTIONAL */
} ECMP_REVREPCONTENT;
DECLARE_ASN1_FUNCTIONS(ECMP_REVREPCONTENT)

/* CertReqMsg (RFC 4211 3), defined below with the CRMF types, for CertReqMessages in PKIBody */
typedef struct ecmp_certreqmsg_st ECMP_CERTREQMSG;
DEFINE_STACK_OF(ECMP_CERTREQMSG)

/* PKIMessage, declared here for NestedMessageContent (PKIMessages) inside PKIBody */
typedef struct ecmp_msg_st ECMP_MSG;
DEFINE_STACK_OF(ECMP_MSG)

/* PKIBody */
typedef struct ecmp_body_st {
  int type; /* ECMP_BODY_* */
  union {
    STACK_OF(ECMP_CERTREQMSG) *ir; /* also cr, kur: CertReqMessages */
    STACK_OF(ECMP_CERTREQMSG) *cr;
    STACK_OF(ECMP_CERTREQMSG) *kur;
    ENROLLD_P10 *p10cr; /* its key kept encoded, as in CertTemplate */
    ECMP_CERTREPMESSAGE *ip; /* also cp, kup */
    ECMP_CERTREPMESSAGE *cp;
    ECMP_CERTREPMESSAGE *kup;
    STACK_OF(ECMP_REVDETAILS) *rr;
    ECMP_REVREPCONTENT *rp;
    ASN1_NULL *pkiconf;
    STACK_OF(ECMP_MSG) *nested; /* NestedMessageContent (RFC 4210 5.1.3.4) */
    STACK_OF(ECMP_ITAV) *genm;
    STACK_OF(ECMP_ITAV) *genp;
    ECMP_ERRORMSG *error;
    STACK_OF(ECMP_CERTSTATUS) *certConf;
    STACK_OF(ECMP_POLLREQ) *pollReq;
    STACK_OF(ECMP_POLLREP) *pollRep;
    ASN1_TYPE *other; /* alternatives enrolld only recognises, to answer them properly */
  } value;
} ECMP_BODY;
DECLARE_ASN1_FUNCTIONS(ECMP_BODY)

/* PKIMessage */
struct ecmp_msg_st {
  ECMP_HEADER *header;
  ECMP_BODY *body;
  ASN1_BIT_STRING *protection; /* [0] OPTIONAL */
  STACK_OF(X509) *extraCerts;  /* [1] OPTIONAL */
};
DECLARE_ASN1_FUNCTIONS(ECMP_MSG)

/* ProtectedPart: what the protection covers (RFC 4210 5.1.3) */
typedef struct ecmp_protectedpart_st {
  ECMP_HEADER *header;
  ECMP_BODY *body;
} ECMP_PROTECTEDPART;
DECLARE_ASN1_FUNCTIONS(ECMP_PROTECTEDPART)

/* PBMParameter (RFC 4211 4.4), decoded by us to check limits before running the KDF */
typedef struct ecmp_pbmparameter_st {
  ASN1_OCTET_STRING *salt;
  X509_ALGOR *owf;
  ASN1_INTEGER *iterationCount;
  X509_ALGOR *mac;
} ECMP_PBMPARAMETER;
DECLARE_ASN1_FUNCTIONS(ECMP_PBMPARAMETER)

/* CertTemplate (RFC 4211 5), re-decoded to reach the public key, which OpenSSL 3.0's CRMF API
 * does not expose. */
typedef struct ecmp_optionalvalidity_st {
  ASN1_TIME *notBefore; /* [0] OPTIONAL */
  ASN1_TIME *notAfter;  /* [1] OPTIONAL */
} ECMP_OPTIONALVALIDITY;
DECLARE_ASN1_FUNCTIONS(ECMP_OPTIONALVALIDITY)


struct ecmp_certtemplate_st {
  ASN1_INTEGER *version;               /* [0] OPTIONAL */
  ASN1_INTEGER *serialNumber;          /* [1] OPTIONAL */
  X509_ALGOR *signingAlg;              /* [2] OPTIONAL */
  X509_NAME *issuer;                   /* [3] OPTIONAL */
  ECMP_OPTIONALVALIDITY *validity;     /* [4] OPTIONAL */
  X509_NAME *subject;                  /* [5] OPTIONAL */
  ENROLLD_SPKI *publicKey;                /* [6] OPTIONAL */
  ASN1_BIT_STRING *issuerUID;          /* [7] OPTIONAL */
  ASN1_BIT_STRING *subjectUID;         /* [8] OPTIONAL */
  STACK_OF(X509_EXTENSION) *extensions; /* [9] OPTIONAL */
};
DECLARE_ASN1_FUNCTIONS(ECMP_CERTTEMPLATE)

/* AttributeTypeAndValue (RFC 4211 6, 7): CertRequest controls and CertReqMsg regInfo */
typedef struct ecmp_atav_st {
  ASN1_OBJECT *type;
  ASN1_TYPE *value;
} ECMP_ATAV;
DEFINE_STACK_OF(ECMP_ATAV)
DECLARE_ASN1_FUNCTIONS(ECMP_ATAV)

/* CertRequest (RFC 4211 5): what a POPOSigningKey signs, as its DER */
typedef struct ecmp_certrequest_st {
  ASN1_INTEGER *certReqId;
  ECMP_CERTTEMPLATE *certTemplate;
  STACK_OF(ECMP_ATAV) *controls; /* OPTIONAL */
} ECMP_CERTREQUEST;
DECLARE_ASN1_FUNCTIONS(ECMP_CERTREQUEST)

/* POPOSigningKeyInput (RFC 4211 4.1): signed instead of the CertRequest when the template has
 * no subject */
typedef struct ecmp_poposkinput_st {
  ASN1_TYPE *authInfo; /* CHOICE { sender [0] GeneralName, publicKeyMAC PKMACValue } */
  ENROLLD_SPKI *publicKey;
} ECMP_POPOSKINPUT;
DECLARE_ASN1_FUNCTIONS(ECMP_POPOSKINPUT)

/* POPOSigningKey (RFC 4211 4.1) */
typedef struct ecmp_poposigningkey_st {
  ECMP_POPOSKINPUT *poposkInput; /* [0] OPTIONAL */
  X509_ALGOR *algorithmIdentifier;
  ASN1_BIT_STRING *signature;
} ECMP_POPOSIGNINGKEY;
DECLARE_ASN1_FUNCTIONS(ECMP_POPOSIGNINGKEY)

/* CertReqMsg (RFC 4211 3), its ProofOfPossession CHOICE as four optional alternatives: OpenSSL's
 * own OSSL_CRMF_MSG would decode the template's public key with the decoder framework (about
 * 1.4 million instructions a request); ENROLLD_SPKI keeps it encoded. */
struct ecmp_certreqmsg_st {
  ECMP_CERTREQUEST *certReq;
  ASN1_NULL *raVerified;          /* popo raVerified [0] NULL */
  ECMP_POPOSIGNINGKEY *signature; /* popo signature [1] */
  ASN1_TYPE *keyEncipherment;     /* popo keyEncipherment [2] POPOPrivKey */
  ASN1_TYPE *keyAgreement;        /* popo keyAgreement [3] POPOPrivKey */
  STACK_OF(ECMP_ATAV) *regInfo;   /* OPTIONAL */
};
DECLARE_ASN1_FUNCTIONS(ECMP_CERTREQMSG)

#ifdef __cplusplus
}
#endif

#endif
