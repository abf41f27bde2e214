#include "store/records.h"

#include <nlohmann/json.hpp>

namespace enrolld::store {

using nlohmann::json;

namespace {

json binary(const Bytes& bytes) {
  return json::binary(bytes);
}

Bytes binary_of(const json& value) {
  const auto& bin = value.get_binary();
  return Bytes(bin.begin(), bin.end());
}

template <typename T, typename Fill>
Result<T> decode_with(ByteView bytes, const char* what, Fill fill) {
  try {
    json doc = json::from_cbor(bytes.begin(), bytes.end());
    T record;
    fill(doc, record);
    return record;
  } catch (const json::exception& e) {
    return fail(ErrorCode::kSystemFailure, std::string("corrupt ") + what + " record: " + e.what());
  }
}

}  // namespace

Bytes encode(const CertificateRecord& r) {
  json doc = {{"serial", r.serial_hex},   {"issuer", r.issuer}, {"subject", r.subject}, {"der", binary(r.der)},
              {"nbf", r.not_before},      {"naf", r.not_after}, {"at", r.issued_at},    {"txn", r.transaction_id_hex},
              {"req", r.requester},       {"status", r.status}, {"rat", r.revoked_at},  {"reason", r.revocation_reason},
              {"rel", r.hold_released_at}};
  return json::to_cbor(doc);
}

Bytes encode(const TransactionRecord& r) {
  json doc = {{"id", r.id_hex},
              {"proto", r.protocol},
              {"state", r.state},
              {"req", r.requester},
              {"profile", r.profile},
              {"serial", r.certificate_serial_hex},
              {"repl", r.replaces_serial_hex},
              {"fp", binary(r.request_fingerprint)},
              {"rsp", binary(r.last_response)},
              {"ps", binary(r.protocol_state)},
              {"created", r.created_at},
              {"updated", r.updated_at},
              {"deadline", r.deadline},
              {"open", r.open},
              {"held", binary(r.held_request)},
              {"by", r.decided_by},
              {"note", r.decision_note}};
  return json::to_cbor(doc);
}

Result<CertificateRecord> decode_certificate(ByteView bytes) {
  return decode_with<CertificateRecord>(bytes, "certificate", [](const json& d, CertificateRecord& r) {
    d.at("serial").get_to(r.serial_hex);
    d.at("issuer").get_to(r.issuer);
    d.at("subject").get_to(r.subject);
    r.der = binary_of(d.at("der"));
    d.at("nbf").get_to(r.not_before);
    d.at("naf").get_to(r.not_after);
    d.at("at").get_to(r.issued_at);
    d.at("txn").get_to(r.transaction_id_hex);
    d.at("req").get_to(r.requester);
    d.at("status").get_to(r.status);
    r.revoked_at = d.value("rat", std::int64_t{0});
    r.revocation_reason = d.value("reason", 0);
    r.hold_released_at = d.value("rel", std::int64_t{0});
  });
}

Result<TransactionRecord> decode_transaction(ByteView bytes) {
  return decode_with<TransactionRecord>(bytes, "transaction", [](const json& d, TransactionRecord& r) {
    d.at("id").get_to(r.id_hex);
    d.at("proto").get_to(r.protocol);
    d.at("state").get_to(r.state);
    d.at("req").get_to(r.requester);
    d.at("profile").get_to(r.profile);
    d.at("serial").get_to(r.certificate_serial_hex);
    r.replaces_serial_hex = d.value("repl", std::string());
    r.request_fingerprint = binary_of(d.at("fp"));
    r.last_response = binary_of(d.at("rsp"));
    r.protocol_state = binary_of(d.at("ps"));
    d.at("created").get_to(r.created_at);
    d.at("updated").get_to(r.updated_at);
    d.at("deadline").get_to(r.deadline);
    r.open = d.value("open", false);
    if (d.contains("held")) r.held_request = binary_of(d.at("held"));
    r.decided_by = d.value("by", std::string());
    r.decision_note = d.value("note", std::string());
  });
}

Bytes encode(const AuditRecord& r) {
  json doc = {{"at", r.at}, {"actor", r.actor}, {"action", r.action}, {"subject", r.subject}, {"detail", r.detail}};
  return json::to_cbor(doc);
}

Result<AuditRecord> decode_audit(ByteView bytes) {
  return decode_with<AuditRecord>(bytes, "audit", [](const json& d, AuditRecord& r) {
    d.at("at").get_to(r.at);
    d.at("actor").get_to(r.actor);
    d.at("action").get_to(r.action);
    d.at("subject").get_to(r.subject);
    d.at("detail").get_to(r.detail);
  });
}

Bytes encode(const PasswordRecord& r) {
  json doc = {{"user", r.user},     {"hash", r.hash}, {"profile", r.profile},
              {"once", r.one_time}, {"used", r.used}, {"created", r.created_at}};
  return json::to_cbor(doc);
}

Result<PasswordRecord> decode_password(ByteView bytes) {
  return decode_with<PasswordRecord>(bytes, "password", [](const json& d, PasswordRecord& r) {
    d.at("user").get_to(r.user);
    d.at("hash").get_to(r.hash);
    d.at("profile").get_to(r.profile);
    d.at("once").get_to(r.one_time);
    d.at("used").get_to(r.used);
    d.at("created").get_to(r.created_at);
  });
}

Bytes encode(const CrlRecord& r) {
  json doc = {{"kind", r.kind},      {"number", r.number},  {"base", r.base_number},
              {"tu", r.this_update}, {"nu", r.next_update}, {"digest", binary(r.entries_digest)},
              {"der", binary(r.der)}};
  return json::to_cbor(doc);
}

Result<CrlRecord> decode_crl(ByteView bytes) {
  return decode_with<CrlRecord>(bytes, "CRL", [](const json& d, CrlRecord& r) {
    d.at("kind").get_to(r.kind);
    d.at("number").get_to(r.number);
    d.at("base").get_to(r.base_number);
    d.at("tu").get_to(r.this_update);
    d.at("nu").get_to(r.next_update);
    r.entries_digest = binary_of(d.at("digest"));
    r.der = binary_of(d.at("der"));
  });
}

Bytes encode(const OutboxRecord& r) {
  json doc = {{"pub", r.publisher},        {"kind", r.kind},       {"name", r.name},     {"subject", r.subject},
              {"der", binary(r.der)},      {"version", r.version}, {"at", r.created_at}, {"attempts", r.attempts},
              {"next", r.next_attempt_at}, {"error", r.last_error}};
  return json::to_cbor(doc);
}

Result<OutboxRecord> decode_outbox(ByteView bytes) {
  return decode_with<OutboxRecord>(bytes, "outbox", [](const json& d, OutboxRecord& r) {
    d.at("pub").get_to(r.publisher);
    d.at("kind").get_to(r.kind);
    d.at("name").get_to(r.name);
    d.at("subject").get_to(r.subject);
    r.der = binary_of(d.at("der"));
    d.at("version").get_to(r.version);
    d.at("at").get_to(r.created_at);
    d.at("attempts").get_to(r.attempts);
    d.at("next").get_to(r.next_attempt_at);
    d.at("error").get_to(r.last_error);
  });
}

}  // namespace enrolld::store
