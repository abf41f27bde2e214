# Every dependency comes from a Debian 12 package (scripts/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(OpenSSL 3.0 REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)                 # Boost.Statechart is header-only
find_package(RocksDB REQUIRED CONFIG)
find_package(spdlog REQUIRED CONFIG)
find_package(fmt REQUIRED CONFIG)
find_package(tomlplusplus REQUIRED CONFIG)
find_package(nlohmann_json 3.11 REQUIRED CONFIG)
find_package(CLI11 REQUIRED CONFIG)                 # header-only
find_package(tl-expected REQUIRED CONFIG)           # header-only
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd>=0.9.75)
pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls>=3.7.2)  # libmicrohttpd's TLS: channel bindings, client certificates
pkg_check_modules(P11 REQUIRED IMPORTED_TARGET libp11>=0.4.12)
pkg_check_modules(P11KIT REQUIRED IMPORTED_TARGET p11-kit-1)   # for pkcs11.h only
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl>=7.88)   # enrollctl's client for the admin API
# sd_notify: READY/RELOADING/STOPPING for systemd Type=notify (a no-op outside systemd).
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
