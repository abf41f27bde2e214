// What a reload (SIGHUP) cannot change: restart_only_changes names the settings that differ
// and need a restart, and leaves out those Core::reload swaps in.
#include <gtest/gtest.h>

#include "app/config.h"

namespace enrolld::app {
namespace {

using Names = std::vector<std::string>;

TEST(RestartOnlyChanges, NamesListenersStoreHsmAndCaSettingsAsTheFileSpellsThem) {
  const Config running;
  Config fresh = running;
  fresh.http_port = 9090;
  fresh.threads = 8;
  fresh.store_path = "/elsewhere/db";
  fresh.hsm_module = "/opt/hsm/libother.so";
  fresh.ca_key = "pkcs11:token=other;object=issuing";
  fresh.ca_certificate = "/etc/enrolld/other.pem";
  fresh.est.port = 9443;
  fresh.admin_token_file = "/etc/enrolld/token";
  EXPECT_EQ(restart_only_changes(running, fresh),
            (Names{"server.http_port", "server.threads", "store.path", "hsm.module", "ca.certificate", "ca.key",
                   "admin.token_file", "est.port"}));
}

TEST(RestartOnlyChanges, WhatAReloadSwapsInIsNotNamed) {
  const Config running;
  Config fresh = running;
  fresh.credentials.push_back({"device-9", "secret-value-9"});
  fresh.profiles.push_back(ProfileConfig{});
  fresh.review.subjects.push_back("*CN=admin*");
  fresh.trust_anchors.push_back("/etc/enrolld/vendor.pem");
  fresh.ra_certificates.push_back("/etc/enrolld/ra.pem");
  fresh.est.trust_anchors.push_back("/etc/enrolld/vendor.pem");
  fresh.validity_days = 30;
  fresh.crl_url = "http://pki.example/crl";
  EXPECT_TRUE(restart_only_changes(running, fresh).empty());
  EXPECT_TRUE(restart_only_changes(running, running).empty());
}

TEST(RestartOnlyChanges, PublishersAndAliasesCompareByValue) {
  Config running;
  running.publish_directory = DirectoryPublishConfig{"/srv/pki", false};
  running.cmp_aliases.push_back({"/pkix", "default"});
  Config fresh = running;
  EXPECT_TRUE(restart_only_changes(running, fresh).empty());
  fresh.publish_directory->certificates = true;
  fresh.cmp_aliases.front().profile = "other";
  EXPECT_EQ(restart_only_changes(running, fresh), (Names{"cmp.aliases", "publish.directory"}));
}

}  // namespace
}  // namespace enrolld::app
