#include "common/openssl_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "common/der.h"

namespace enrolld::ossl {

X509Ptr up_ref(::X509* cert) {
  if (cert != nullptr) ::X509_up_ref(cert);
  return X509Ptr(cert);
}

EvpPkeyPtr up_ref(::EVP_PKEY* key) {
  if (key != nullptr) ::EVP_PKEY_up_ref(key);
  return EvpPkeyPtr(key);
}

std::string drain_errors() {
  std::string out;
  unsigned long code = 0;
  const char* data = nullptr;
  int flags = 0;
  while ((code = ::ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    char buf[256];
    ::ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      out += " (";
      out += data;
      out += ")";
    }
  }
  return out;
}

namespace {
template <typename T, typename Fn>
Bytes encode(const T* object, Fn i2d) {
  if (object == nullptr) return {};
  int len = i2d(object, nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<std::size_t>(len));
  unsigned char* p = out.data();
  if (i2d(object, &p) != len) return {};
  return out;
}
}  // namespace

std::string integer_hex(const ::ASN1_INTEGER* value) {
  BignumPtr bn(value != nullptr ? ::ASN1_INTEGER_to_BN(value, nullptr) : nullptr);
  if (!bn) return {};
  Bytes raw(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  ::BN_bn2bin(bn.get(), raw.data());
  return to_hex(raw);
}

Result<Bytes> digest(ByteView data, const ::EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (::EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) {
    return fail(ErrorCode::kSystemFailure, "cannot hash: " + drain_errors());
  }
  return Bytes(out, out + len);
}

Bytes sha256(ByteView data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (::EVP_Digest(data.data(), data.size(), digest, &len, ::EVP_sha256(), nullptr) != 1) {
    std::abort();  // SHA-256 unavailable: OpenSSL itself is broken
  }
  return Bytes(digest, digest + len);
}

Bytes der_of(const ::X509* cert) {
  return encode(cert, ::i2d_X509);
}
Bytes der_of(const ::X509_NAME* name) {
  return encode(name, ::i2d_X509_NAME);
}
Result<Bytes> cms_content(const ::CMS_ContentInfo* cms) {
  Bytes content_info = der_with(cms, ::i2d_CMS_ContentInfo);
  auto outer = der::read_element(content_info);
  auto parts = outer ? der::read_children(outer->content) : std::nullopt;
  Result<Bytes> content = parts && parts->size() == 2
                              ? Result<Bytes>(Bytes((*parts)[1].content.begin(), (*parts)[1].content.end()))
                              : fail(ErrorCode::kSystemFailure, "CMS ContentInfo without content");
  ::OPENSSL_cleanse(content_info.data(), content_info.size());  // it may hold a key in clear
  return content;
}

Bytes der_of_public_key(const ::EVP_PKEY* key) {
  return encode(key, ::i2d_PUBKEY);
}

Result<X509Ptr> x509_from_der(ByteView der) {
  const unsigned char* p = der.data();
  X509Ptr cert(::d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) {
    return fail(ErrorCode::kBadDataFormat, "not a DER certificate: " + drain_errors());
  }
  return cert;
}

namespace {

// A DER certificate's three parts: tbsCertificate, signatureAlgorithm, signatureValue.
std::optional<std::vector<der::Element>> certificate_parts(ByteView der) {
  constexpr std::uint8_t kSeq = 0x30;
  auto certificate = der::read_element(der);
  auto parts = certificate && certificate->tag == kSeq && certificate->whole.size() == der.size()
                   ? der::read_children(certificate->content)
                   : std::nullopt;
  if (!parts || parts->size() != 3 || (*parts)[0].tag != kSeq || (*parts)[1].tag != kSeq) return std::nullopt;
  return parts;
}

}  // namespace

std::optional<CertificateSubject> subject_of_certificate(ByteView der) {
  constexpr std::uint8_t kSeq = 0x30, kExplicitVersion = 0xa0;
  auto parts = certificate_parts(der);
  auto tbs = parts ? der::read_children(parts->front().content) : std::nullopt;
  if (!tbs) return std::nullopt;
  // TBSCertificate: [0] version (optional), serialNumber, signature, issuer, validity, subject,
  // subjectPublicKeyInfo, ...
  const std::size_t subject = !tbs->empty() && tbs->front().tag == kExplicitVersion ? 5 : 4;
  if (tbs->size() < subject + 2 || (*tbs)[subject].tag != kSeq || (*tbs)[subject + 1].tag != kSeq) {
    return std::nullopt;
  }
  return CertificateSubject{(*tbs)[subject].whole, (*tbs)[subject + 1].whole};
}

// Decoding the certificate would decode its public key too, which OpenSSL 3.0 makes the larger
// part of a certConf's cost: the hash is read from the signature algorithm where it can be.
Result<Bytes> signature_digest_of_certificate(ByteView der) {
  if (auto parts = certificate_parts(der)) {
    const ByteView algorithm_der = (*parts)[1].whole;
    const unsigned char* p = algorithm_der.data();
    std::unique_ptr<::X509_ALGOR, Deleter<::X509_ALGOR_free>> algorithm(
        ::d2i_X509_ALGOR(nullptr, &p, static_cast<long>(algorithm_der.size())));
    int md_nid = NID_undef;
    int pkey_nid = NID_undef;
    const ::EVP_MD* md = algorithm &&
                                 ::OBJ_find_sigid_algs(::OBJ_obj2nid(algorithm->algorithm), &md_nid, &pkey_nid) == 1 &&
                                 md_nid != NID_undef
                             ? ::EVP_get_digestbynid(md_nid)
                             : nullptr;
    if (md != nullptr) return digest(der, md);
  }
  ::ERR_clear_error();
  auto cert = x509_from_der(der);
  if (!cert) return fail(ErrorCode::kSystemFailure, "cannot hash the certificate: " + cert.error().message);
  Asn1OctetStringPtr hash(::X509_digest_sig(cert->get(), nullptr, nullptr));
  if (!hash) return fail(ErrorCode::kSystemFailure, "cannot hash the certificate: " + drain_errors());
  return Bytes(hash->data, hash->data + hash->length);
}

Result<X509NamePtr> name_from_der(ByteView der) {
  const unsigned char* p = der.data();
  X509NamePtr name(::d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  if (!name) return fail(ErrorCode::kBadDataFormat, "not a DER name: " + drain_errors());
  return name;
}

namespace {

// The parts of a SubjectPublicKeyInfo (RFC 5280 4.1.2.7), as byte ranges of the input.
struct SpkiParts {
  ByteView algorithm;   // the AlgorithmIdentifier element, whole
  ByteView oid;         // its algorithm OID, content octets
  ByteView parameters;  // its parameters element, whole (empty when absent)
  ByteView key;         // the subjectPublicKey BIT STRING's content after its unused-bits octet
};

constexpr std::uint8_t kSequence = 0x30, kOid = 0x06, kBitString = 0x03, kInteger = 0x02;

std::optional<SpkiParts> split_spki(ByteView der) {
  auto spki = der::read_element(der);
  if (!spki || spki->tag != kSequence || spki->whole.size() != der.size()) return std::nullopt;
  auto fields = der::read_children(spki->content);
  if (!fields || fields->size() != 2 || (*fields)[0].tag != kSequence || (*fields)[1].tag != kBitString) {
    return std::nullopt;
  }
  auto algorithm = der::read_children((*fields)[0].content);
  if (!algorithm || algorithm->empty() || algorithm->size() > 2 || (*algorithm)[0].tag != kOid) return std::nullopt;
  const ByteView bits = (*fields)[1].content;
  if (bits.empty() || bits[0] != 0) return std::nullopt;  // keys are whole octets
  return SpkiParts{(*fields)[0].whole, (*algorithm)[0].content,
                   algorithm->size() == 2 ? (*algorithm)[1].whole : ByteView{}, bits.subspan(1)};
}

bool same(ByteView a, std::initializer_list<std::uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// id-ecPublicKey (1.2.840.10045.2.1), rsaEncryption (1.2.840.113549.1.1.1).
constexpr std::initializer_list<std::uint8_t> kEcPublicKey = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
constexpr std::initializer_list<std::uint8_t> kRsaEncryption = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};

// The named curve of an id-ecPublicKey's parameters, for the curves devices use.
const char* curve_name(ByteView parameters) {
  if (same(parameters, {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})) return "prime256v1";
  if (same(parameters, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22})) return "secp384r1";
  if (same(parameters, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23})) return "secp521r1";
  return nullptr;
}

EvpPkeyPtr key_from_params(const char* type, const ::OSSL_PARAM* params) {
  std::unique_ptr<::EVP_PKEY_CTX, Deleter<::EVP_PKEY_CTX_free>> ctx(
      ::EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  ::EVP_PKEY* key = nullptr;
  if (!ctx || ::EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      ::EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, const_cast<::OSSL_PARAM*>(params)) != 1) {
    return nullptr;
  }
  return EvpPkeyPtr(key);
}

// An EC public key on a named curve, uncompressed point: the point is checked to be on the
// curve by the import, as d2i would.
EvpPkeyPtr ec_key(const SpkiParts& parts) {
  const char* curve = curve_name(parts.parameters);
  if (curve == nullptr || parts.key.empty() || parts.key[0] != 0x04) return nullptr;
  const ::OSSL_PARAM params[] = {
      ::OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(curve), 0),
      ::OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<std::uint8_t*>(parts.key.data()),
                                          parts.key.size()),
      ::OSSL_PARAM_construct_end()};
  return key_from_params("EC", params);
}

// The content of a DER INTEGER that is positive and minimally encoded, or empty.
ByteView positive_integer(const der::Element& element) {
  const ByteView value = element.content;
  if (element.tag != kInteger || value.empty() || (value[0] & 0x80) != 0) return {};
  if (value.size() > 1 && value[0] == 0 && (value[1] & 0x80) == 0) return {};
  return value;
}

// An RSA public key (RSAPublicKey, RFC 8017 A.1.1) with NULL parameters.
EvpPkeyPtr rsa_key(const SpkiParts& parts) {
  if (!same(parts.parameters, {0x05, 0x00})) return nullptr;
  auto rsa = der::read_element(parts.key);
  if (!rsa || rsa->tag != kSequence || rsa->whole.size() != parts.key.size()) return nullptr;
  auto numbers = der::read_children(rsa->content);
  if (!numbers || numbers->size() != 2) return nullptr;
  const ByteView n = positive_integer((*numbers)[0]), e = positive_integer((*numbers)[1]);
  if (n.empty() || e.empty()) return nullptr;
  // OSSL_PARAM integers are native-endian.
  Bytes n_native(n.rbegin(), n.rend()), e_native(e.rbegin(), e.rend());
  const ::OSSL_PARAM params[] = {::OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, n_native.data(), n_native.size()),
                                 ::OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, e_native.data(), e_native.size()),
                                 ::OSSL_PARAM_construct_end()};
  return key_from_params("RSA", params);
}

}  // namespace

// X509_set_pubkey would encode the key with OpenSSL 3.0's encoder framework and decode the
// result again (about 2 million instructions); the request already holds the encoding, whose
// two fields are copied as they are.
Status set_public_key(::X509* cert, ByteView spki_der) {
  auto parts = split_spki(spki_der);
  const unsigned char* p = parts ? parts->algorithm.data() : nullptr;
  std::unique_ptr<::X509_ALGOR, Deleter<::X509_ALGOR_free>> algorithm(
      parts ? ::d2i_X509_ALGOR(nullptr, &p, static_cast<long>(parts->algorithm.size())) : nullptr);
  if (!algorithm) return fail(ErrorCode::kBadDataFormat, "not a DER public key: " + drain_errors());
  const ::ASN1_OBJECT* oid = nullptr;
  int parameter_type = V_ASN1_UNDEF;
  const void* parameter = nullptr;
  ::X509_ALGOR_get0(&oid, &parameter_type, &parameter, algorithm.get());
  void* parameter_copy = nullptr;
  if (parameter_type == V_ASN1_OBJECT) {
    parameter_copy = ::OBJ_dup(static_cast<const ::ASN1_OBJECT*>(parameter));
  } else if (parameter_type != V_ASN1_UNDEF && parameter_type != V_ASN1_NULL) {
    parameter_copy = ::ASN1_STRING_dup(static_cast<const ::ASN1_STRING*>(parameter));
  }
  auto* key_octets = static_cast<unsigned char*>(::OPENSSL_memdup(parts->key.data(), parts->key.size()));
  ::ASN1_OBJECT* oid_copy = ::OBJ_dup(oid);
  if (oid_copy == nullptr || key_octets == nullptr ||
      (parameter_type != V_ASN1_UNDEF && parameter_type != V_ASN1_NULL && parameter_copy == nullptr) ||
      ::X509_PUBKEY_set0_param(::X509_get_X509_PUBKEY(cert), oid_copy, parameter_type, parameter_copy, key_octets,
                               static_cast<int>(parts->key.size())) != 1) {
    ::ASN1_OBJECT_free(oid_copy);
    ::OPENSSL_free(key_octets);
    if (parameter_type == V_ASN1_OBJECT)
      ::ASN1_OBJECT_free(static_cast<::ASN1_OBJECT*>(parameter_copy));
    else
      ::ASN1_STRING_free(static_cast<::ASN1_STRING*>(parameter_copy));
    return fail(ErrorCode::kSystemFailure, "cannot set the public key: " + drain_errors());
  }
  return {};
}

// OpenSSL 3.0's d2i_PUBKEY runs its decoder framework, which sets up a context over every
// provider's decoders for each key: about 1.4 million instructions, where the key itself takes
// a few thousand, and several per enrollment. The keys devices send (EC on a named curve with
// an uncompressed point, RSA) are built from their parameters instead; anything else, and
// anything these do not accept, goes the general way, which decides.
//
// One enrollment asks for its request's key several times, all on the thread that handles it
// (proof of possession, the RA's and the CA's profile checks, the CA's certificate): the two
// keys last decoded on a thread are kept for the next calls there with the same bytes.
Result<EvpPkeyPtr> public_key_from_der(ByteView spki_der) {
  struct Decoded {
    Bytes der;
    EvpPkeyPtr key;
  };
  thread_local std::array<Decoded, 2> last_decoded;  // [0] the latest; a key update asks for two keys
  for (auto& entry : last_decoded) {
    if (entry.key && std::equal(spki_der.begin(), spki_der.end(), entry.der.begin(), entry.der.end())) {
      std::swap(entry, last_decoded[0]);  // the latest used comes first
      return up_ref(last_decoded[0].key.get());
    }
  }
  EvpPkeyPtr key;
  if (auto parts = split_spki(spki_der)) {
    if (same(parts->oid, kEcPublicKey)) key = ec_key(*parts);
    if (same(parts->oid, kRsaEncryption)) key = rsa_key(*parts);
    ::ERR_clear_error();
  }
  if (!key) {
    const unsigned char* p = spki_der.data();
    key.reset(::d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
    if (!key) return fail(ErrorCode::kBadDataFormat, "not a DER public key: " + drain_errors());
  }
  std::swap(last_decoded[0], last_decoded[1]);
  last_decoded[0] = Decoded{Bytes(spki_der.begin(), spki_der.end()), up_ref(key.get())};
  return key;
}

Result<std::vector<X509Ptr>> read_pem_certificates(const std::string& path) {
  BioPtr bio(::BIO_new_file(path.c_str(), "r"));
  if (!bio) return fail(ErrorCode::kConfigInvalid, "cannot open " + path + ": " + drain_errors());
  std::vector<X509Ptr> certs;
  while (X509Ptr cert{::PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    certs.push_back(std::move(cert));
  }
  ::ERR_clear_error();  // the loop ends on "no start line", which is not an error
  if (certs.empty()) return fail(ErrorCode::kConfigInvalid, "no PEM certificate in " + path);
  return certs;
}

Result<X509Ptr> read_pem_certificate(const std::string& path) {
  auto certs = read_pem_certificates(path);
  if (!certs) return tl::unexpected(certs.error());
  return std::move(certs->front());
}

std::string pem_of(const ::X509* cert) {
  BioPtr bio(::BIO_new(::BIO_s_mem()));
  if (!bio || ::PEM_write_bio_X509(bio.get(), cert) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string pem_of_private_key(const ::EVP_PKEY* key) {
  BioPtr bio(::BIO_new(::BIO_s_mem()));
  if (!bio || ::PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

namespace {

// A disk that cannot take a write may come back (space freed, a mount fixed): kSystemUnavailable.
tl::unexpected<Error> disk_error(const char* what, const std::string& path, int error_number) {
  return fail(ErrorCode::kSystemUnavailable,
              std::string("cannot ") + what + " " + path + ": " + std::strerror(error_number));
}

Status write_all(int fd, std::string_view content, const std::string& path) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ::ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return disk_error("write", path, n < 0 ? errno : ENOSPC);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

Result<std::string> read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return fail(ErrorCode::kConfigInvalid, "cannot read " + path);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// A unique temp file next to `path` (a web server never sees half a file, two writers never share
// a temp file), renamed over `path`; with kSynced the file is synced before the rename and the
// folder after it, so the rename is durable. The temp file is removed again if any step fails.
Status write_file_atomically(const std::string& path, std::string_view content, unsigned mode, Durability durability) {
  const bool sync_now = durability == Durability::kSynced;
  const std::filesystem::path target(path);
  const std::filesystem::path folder = target.has_parent_path() ? target.parent_path() : ".";
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, falsely) about "." + name.
  std::string temp_name = ".";
  temp_name += target.filename().string();
  temp_name += ".XXXXXX";
  std::string tmp = (folder / temp_name).string();
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return disk_error("create a temp file for", path, errno);
  Status written = [&]() -> Status {
    if (::fchmod(fd, static_cast<::mode_t>(mode)) != 0) return disk_error("set the mode of", tmp, errno);
    if (auto ok = write_all(fd, content, tmp); !ok) return ok;
    if (sync_now && ::fsync(fd) != 0) return disk_error("sync", tmp, errno);
    return {};
  }();
  if (::close(fd) != 0 && written) written = disk_error("close", tmp, errno);
  if (written && ::rename(tmp.c_str(), path.c_str()) != 0) written = disk_error("replace", path, errno);
  if (!written) {
    ::unlink(tmp.c_str());
    return written;
  }
  if (!sync_now) return {};
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const bool synced = folder_fd >= 0 && ::fsync(folder_fd) == 0;
  const int sync_errno = errno;
  if (folder_fd >= 0) ::close(folder_fd);
  if (!synced) return disk_error("sync folder", folder.string(), sync_errno);
  return {};
}

Status sync_file_system(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const bool synced = fd >= 0 && ::syncfs(fd) == 0;
  const int sync_errno = errno;
  if (fd >= 0) ::close(fd);
  if (!synced) return disk_error("sync the file system of", path, sync_errno);
  return {};
}

std::string name_to_string(const ::X509_NAME* name) {
  BioPtr bio(::BIO_new(::BIO_s_mem()));
  if (!bio || name == nullptr) return {};
  ::X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace enrolld::ossl
