#pragma once
// What one step of the load tool yields: a value, or a failure whose `kind` is a short, stable
// token (no blanks) under which it is counted in the report ("transport.connect",
// "cmp.rejected.badPOP", "verify.key"), and a `detail` for a person.

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace enrolld::load {

struct Failure {
  std::string kind;
  std::string detail;
};

template <typename T>
using Outcome = tl::expected<T, Failure>;

using Done = Outcome<void>;

inline tl::unexpected<Failure> failure(std::string kind, std::string detail) {
  return tl::unexpected<Failure>(Failure{std::move(kind), std::move(detail)});
}

}  // namespace enrolld::load
