// Sanitizer defaults, compiled into executables only in ENROLLD_SANITIZE builds, so that every
// run (tests, and the daemon the integration tests start) gets the same options.
extern "C" {

// Full unwinding: libcrypto and libp11 have no frame pointers, and suppressions match frames.
// Ten frames per allocation reach libp11 in every stack it leaks from, and halve the suites'
// time: unwinding every malloc 30 frames deep (the default) was most of it.
const char* __asan_default_options() {
  return "detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0:malloc_context_size=10";
}

const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1";
}

// libp11 0.4.12 does not free, on release: the PKCS11_CTX load state, the PIN it keeps for
// re-login, and the key object behind PKCS11_get_private_key/get_public_key. Each is made once
// per token open or key load at start-up, never per request (the concurrent-signing test shows
// no leak per signature).
const char* __lsan_default_suppressions() {
  return "leak:libp11.so\n";
}
}
