#include "protocols/cmp/central_keygen.h"

#include "common/der.h"

namespace enrolld::cmp {

namespace {
constexpr std::uint8_t kSequenceTag = 0x30;
constexpr std::uint8_t kImplicitZeroTag = 0xa0;  // [0] IMPLICIT of a constructed type
}  // namespace

Result<Bytes> encrypted_key(ByteView signed_data, const KeyRecipient& recipient) {
  auto cms = cms::envelope_key(signed_data, recipient);
  if (!cms) return tl::unexpected(cms.error());
  // The EnvelopedData, tagged [0] IMPLICIT: the EncryptedKey choice.
  auto content = ossl::cms_content(cms->get());
  if (!content) return tl::unexpected(content.error());
  auto enveloped = der::read_element(*content);
  if (!enveloped || enveloped->tag != kSequenceTag) {
    return fail(ErrorCode::kSystemFailure, "CMS produced no EnvelopedData");
  }
  return der::element(kImplicitZeroTag, enveloped->content);
}

}  // namespace enrolld::cmp
