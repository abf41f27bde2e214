#include "common/openssl_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/err.h>
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

Result<X509NamePtr> name_from_der(ByteView der) {
  const unsigned char* p = der.data();
  X509NamePtr name(::d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  if (!name) return fail(ErrorCode::kBadDataFormat, "not a DER name: " + drain_errors());
  return name;
}

Result<EvpPkeyPtr> public_key_from_der(ByteView spki_der) {
  const unsigned char* p = spki_der.data();
  EvpPkeyPtr key(::d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!key) return fail(ErrorCode::kBadDataFormat, "not a DER public key: " + drain_errors());
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
// a temp file), synced and renamed over `path`, then the folder synced so the rename is durable;
// the temp file is removed again if any step fails.
Status write_file_atomically(const std::string& path, std::string_view content, unsigned mode) {
  const std::filesystem::path target(path);
  const std::filesystem::path folder = target.has_parent_path() ? target.parent_path() : ".";
  std::string tmp = (folder / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return disk_error("create a temp file for", path, errno);
  Status written = [&]() -> Status {
    if (::fchmod(fd, static_cast<::mode_t>(mode)) != 0) return disk_error("set the mode of", tmp, errno);
    if (auto ok = write_all(fd, content, tmp); !ok) return ok;
    if (::fsync(fd) != 0) return disk_error("sync", tmp, errno);
    return {};
  }();
  if (::close(fd) != 0 && written) written = disk_error("close", tmp, errno);
  if (written && ::rename(tmp.c_str(), path.c_str()) != 0) written = disk_error("replace", path, errno);
  if (!written) {
    ::unlink(tmp.c_str());
    return written;
  }
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const bool synced = folder_fd >= 0 && ::fsync(folder_fd) == 0;
  const int sync_errno = errno;
  if (folder_fd >= 0) ::close(folder_fd);
  if (!synced) return disk_error("sync folder", folder.string(), sync_errno);
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
