#include "app/admin_client.h"

#include <curl/curl.h>

#include <memory>

namespace enrolld::app {

namespace {

using CurlPtr = std::unique_ptr<CURL, decltype(&::curl_easy_cleanup)>;
using HeaderList = std::unique_ptr<curl_slist, decltype(&::curl_slist_free_all)>;

constexpr long kTimeoutSeconds = 30;

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// Adds a header; the list owns every node it gets, also when appending fails.
bool add_header(HeaderList& list, const std::string& header) {
  curl_slist* grown = ::curl_slist_append(list.get(), header.c_str());
  if (grown == nullptr) return false;
  list.release();
  list.reset(grown);
  return true;
}

}  // namespace

Result<AdminReply> admin_request(const std::string& method, const std::string& url, const std::string& token,
                                 const std::string& json_body) {
  CurlPtr curl(::curl_easy_init(), &::curl_easy_cleanup);
  HeaderList headers(nullptr, &::curl_slist_free_all);
  if (!curl || !add_header(headers, "Authorization: Bearer " + token) ||
      !add_header(headers, "Content-Type: application/json")) {
    return fail(ErrorCode::kSystemFailure, "cannot set up an HTTP request");
  }
  AdminReply reply;
  ::curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  ::curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  ::curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, kTimeoutSeconds);
  ::curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  ::curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_body);
  ::curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &reply.body);
  if (method != "GET" && method != "POST") ::curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST") {
    ::curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, json_body.c_str());
    ::curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(json_body.size()));
  }
  const CURLcode result = ::curl_easy_perform(curl.get());
  if (result != CURLE_OK) {
    return fail(ErrorCode::kSystemUnavailable, "cannot reach enrolld's admin listener at " + url + ": " +
                                                   ::curl_easy_strerror(result) + " (is enrolld running?)");
  }
  ::curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace enrolld::app
