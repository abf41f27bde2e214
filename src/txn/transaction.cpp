#include "txn/transaction.h"

#include <boost/mpl/list.hpp>
#include <boost/statechart/custom_reaction.hpp>
#include <boost/statechart/event.hpp>
#include <boost/statechart/simple_state.hpp>
#include <boost/statechart/state.hpp>
#include <boost/statechart/state_machine.hpp>
#include <boost/statechart/transition.hpp>

namespace enrolld::txn {

namespace sc = boost::statechart;
namespace mpl = boost::mpl;

std::string_view to_string(State state) {
  switch (state) {
    case State::kReceived: return "received";
    case State::kWaitingForApproval: return "waiting-for-approval";
    case State::kApproved: return "approved";
    case State::kWaitingForConfirmation: return "waiting-for-confirmation";
    case State::kConfirmed: return "confirmed";
    case State::kRejected: return "rejected";
    case State::kRefused: return "refused";
    case State::kExpired: return "expired";
  }
  return "invalid";
}

std::string_view to_string(Event event) {
  switch (event) {
    case Event::kIssued: return "issued";
    case Event::kIssuedConfirmed: return "issued-confirmed";
    case Event::kHeld: return "held";
    case Event::kApproved: return "approved";
    case Event::kRefused: return "refused";
    case Event::kConfirmed: return "confirmed";
    case Event::kRejected: return "rejected";
    case Event::kTimeout: return "timeout";
  }
  return "invalid";
}

std::optional<State> state_from_string(std::string_view name) {
  for (auto s : {State::kReceived, State::kWaitingForApproval, State::kApproved, State::kWaitingForConfirmation,
                 State::kConfirmed, State::kRejected, State::kRefused, State::kExpired}) {
    if (to_string(s) == name) return s;
  }
  return std::nullopt;
}

bool is_final(State state) {
  return state == State::kConfirmed || state == State::kRejected || state == State::kRefused ||
         state == State::kExpired;
}

// Named, not anonymous: Boost.Statechart needs its events to have linkage (clang insists).
namespace detail {

struct EvResume : sc::event<EvResume> {
  explicit EvResume(State s) : state(s) {}
  State state;
};
struct EvIssued : sc::event<EvIssued> {};
struct EvIssuedConfirmed : sc::event<EvIssuedConfirmed> {};
struct EvHeld : sc::event<EvHeld> {};
struct EvApproved : sc::event<EvApproved> {};
struct EvRefused : sc::event<EvRefused> {};
struct EvConfirmed : sc::event<EvConfirmed> {};
struct EvRejected : sc::event<EvRejected> {};
struct EvTimeout : sc::event<EvTimeout> {};

struct Resuming;
struct Received;
struct WaitingForApproval;
struct Approved;
struct WaitingForConfirmation;
struct Confirmed;
struct Rejected;
struct Refused;
struct Expired;

}  // namespace detail

struct Transaction::Machine : sc::state_machine<Transaction::Machine, detail::Resuming> {
  State current = State::kReceived;
  bool consumed = true;
  void unconsumed_event(const sc::event_base&) { consumed = false; }
};

namespace detail {

// Each state records its name in the machine on entry; that name is what gets persisted.
template <typename Self, State kName, typename Reactions = mpl::list<>>
struct Named : sc::state<Self, Transaction::Machine> {
  using Base = sc::state<Self, Transaction::Machine>;
  using reactions = Reactions;
  explicit Named(typename Base::my_context ctx) : Base(ctx) {
    this->template context<Transaction::Machine>().current = kName;
  }
};

struct Resuming : sc::simple_state<Resuming, Transaction::Machine> {
  using reactions = sc::custom_reaction<EvResume>;
  sc::result react(const EvResume& ev);
};

struct Received
    : Named<Received, State::kReceived,
            mpl::list<sc::transition<EvIssued, WaitingForConfirmation>, sc::transition<EvIssuedConfirmed, Confirmed>,
                      sc::transition<EvHeld, WaitingForApproval>, sc::transition<EvRefused, Refused>>> {
  explicit Received(my_context ctx) : Named(ctx) {}
};
struct WaitingForApproval : Named<WaitingForApproval, State::kWaitingForApproval,
                                  mpl::list<sc::transition<EvApproved, Approved>, sc::transition<EvRefused, Refused>,
                                            sc::transition<EvTimeout, Expired>>> {
  explicit WaitingForApproval(my_context ctx) : Named(ctx) {}
};
struct Approved : Named<Approved, State::kApproved,
                        mpl::list<sc::transition<EvIssued, WaitingForConfirmation>,
                                  sc::transition<EvIssuedConfirmed, Confirmed>, sc::transition<EvTimeout, Expired>>> {
  explicit Approved(my_context ctx) : Named(ctx) {}
};
struct WaitingForConfirmation
    : Named<WaitingForConfirmation, State::kWaitingForConfirmation,
            mpl::list<sc::transition<EvConfirmed, Confirmed>, sc::transition<EvRejected, Rejected>,
                      sc::transition<EvTimeout, Expired>>> {
  explicit WaitingForConfirmation(my_context ctx) : Named(ctx) {}
};
struct Confirmed : Named<Confirmed, State::kConfirmed> {
  explicit Confirmed(my_context ctx) : Named(ctx) {}
};
struct Rejected : Named<Rejected, State::kRejected> {
  explicit Rejected(my_context ctx) : Named(ctx) {}
};
struct Refused : Named<Refused, State::kRefused> {
  explicit Refused(my_context ctx) : Named(ctx) {}
};
struct Expired : Named<Expired, State::kExpired> {
  explicit Expired(my_context ctx) : Named(ctx) {}
};

sc::result Resuming::react(const EvResume& ev) {
  switch (ev.state) {
    case State::kReceived: return transit<Received>();
    case State::kWaitingForApproval: return transit<WaitingForApproval>();
    case State::kApproved: return transit<Approved>();
    case State::kWaitingForConfirmation: return transit<WaitingForConfirmation>();
    case State::kConfirmed: return transit<Confirmed>();
    case State::kRejected: return transit<Rejected>();
    case State::kRefused: return transit<Refused>();
    case State::kExpired: return transit<Expired>();
  }
  return discard_event();
}

}  // namespace detail

Transaction::Transaction(State start) : m_machine(std::make_unique<Machine>()) {
  m_machine->initiate();
  m_machine->process_event(detail::EvResume(start));
}
Transaction::Transaction(Transaction&&) noexcept = default;
Transaction& Transaction::operator=(Transaction&&) noexcept = default;
Transaction::~Transaction() = default;

Transaction Transaction::begin() {
  return Transaction(State::kReceived);
}
Transaction Transaction::resume(State persisted) {
  return Transaction(persisted);
}

State Transaction::state() const {
  return m_machine->current;
}

Result<State> Transaction::apply(Event event) {
  m_machine->consumed = true;
  switch (event) {
    case Event::kIssued: m_machine->process_event(detail::EvIssued()); break;
    case Event::kIssuedConfirmed: m_machine->process_event(detail::EvIssuedConfirmed()); break;
    case Event::kHeld: m_machine->process_event(detail::EvHeld()); break;
    case Event::kApproved: m_machine->process_event(detail::EvApproved()); break;
    case Event::kRefused: m_machine->process_event(detail::EvRefused()); break;
    case Event::kConfirmed: m_machine->process_event(detail::EvConfirmed()); break;
    case Event::kRejected: m_machine->process_event(detail::EvRejected()); break;
    case Event::kTimeout: m_machine->process_event(detail::EvTimeout()); break;
  }
  if (!m_machine->consumed) {
    return fail(ErrorCode::kUnexpectedMessage, "a transaction in state '" + std::string(to_string(state())) +
                                                   "' does not accept '" + std::string(to_string(event)) + "'");
  }
  return state();
}

}  // namespace enrolld::txn
