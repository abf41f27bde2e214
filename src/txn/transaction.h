#pragma once
// The life of one enrollment transaction, as a Boost.Statechart machine whose state is persisted
// (by name) at every step, so that a restart or another node continues it.
//
//   received              --issued-->           waiting-for-confirmation
//   received              --issued-confirmed--> confirmed
//   received              --held-->             waiting-for-approval   (the profile needs an officer)
//   received              --refused-->          refused
//   waiting-for-approval  --approved-->         approved               (enrollctl approve)
//   waiting-for-approval  --refused-->          refused                (enrollctl reject)
//   waiting-for-approval  --timeout-->          expired
//   approved              --issued-->           waiting-for-confirmation (issued when the requester polls)
//   approved              --issued-confirmed--> confirmed
//   approved              --timeout-->          expired
//   waiting-for-confirmation --confirmed-->     confirmed
//   waiting-for-confirmation --rejected-->      rejected
//   waiting-for-confirmation --timeout-->       expired
//   confirmed, rejected, refused, expired: final, accept nothing.
//
// "issued-confirmed" is issuance with implicit confirmation (RFC 9483 4.1.1 implicitConfirm).
// kTransitions below is this table as data; a unit test checks the machine against it and
// writes docs/transaction-states.dot from it.

#include <array>
#include <memory>
#include <optional>
#include <string_view>

#include "common/error.h"

namespace enrolld::txn {

enum class State {
  kReceived,
  kWaitingForApproval,
  kApproved,
  kWaitingForConfirmation,
  kConfirmed,
  kRejected,
  kRefused,
  kExpired
};
enum class Event { kIssued, kIssuedConfirmed, kHeld, kApproved, kRefused, kConfirmed, kRejected, kTimeout };

std::string_view to_string(State state);
std::string_view to_string(Event event);
std::optional<State> state_from_string(std::string_view name);
bool is_final(State state);

struct Transition {
  State from;
  Event event;
  State to;
};

inline constexpr std::array kTransitions = {
    Transition{State::kReceived, Event::kIssued, State::kWaitingForConfirmation},
    Transition{State::kReceived, Event::kIssuedConfirmed, State::kConfirmed},
    Transition{State::kReceived, Event::kHeld, State::kWaitingForApproval},
    Transition{State::kReceived, Event::kRefused, State::kRefused},
    Transition{State::kWaitingForApproval, Event::kApproved, State::kApproved},
    Transition{State::kWaitingForApproval, Event::kRefused, State::kRefused},
    Transition{State::kWaitingForApproval, Event::kTimeout, State::kExpired},
    Transition{State::kApproved, Event::kIssued, State::kWaitingForConfirmation},
    Transition{State::kApproved, Event::kIssuedConfirmed, State::kConfirmed},
    Transition{State::kApproved, Event::kTimeout, State::kExpired},
    Transition{State::kWaitingForConfirmation, Event::kConfirmed, State::kConfirmed},
    Transition{State::kWaitingForConfirmation, Event::kRejected, State::kRejected},
    Transition{State::kWaitingForConfirmation, Event::kTimeout, State::kExpired},
};

// Thread-safety: none; one transaction is driven by one request at a time (the caller locks).
class Transaction {
 public:
  // A new transaction, in State::kReceived.
  static Transaction begin();
  // A transaction continued from its persisted state.
  static Transaction resume(State persisted);

  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) noexcept;
  ~Transaction();

  State state() const;

  // Applies the event. Returns the new state, or kUnexpectedMessage (state unchanged) if the
  // current state does not accept it.
  [[nodiscard]] Result<State> apply(Event event);

  struct Machine;  // the Boost.Statechart machine, defined in transaction.cpp

 private:
  explicit Transaction(State start);
  std::unique_ptr<Machine> m_machine;
};

}  // namespace enrolld::txn
