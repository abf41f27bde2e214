#include "txn/transaction.h"

#include <array>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace enrolld::txn {
namespace {

constexpr std::array kAllStates = {
    State::kReceived,  State::kWaitingForApproval, State::kApproved, State::kWaitingForConfirmation,
    State::kConfirmed, State::kRejected,           State::kRefused,  State::kExpired};
constexpr std::array kAllEvents = {Event::kIssued,  Event::kIssuedConfirmed, Event::kHeld,     Event::kApproved,
                                   Event::kRefused, Event::kConfirmed,       Event::kRejected, Event::kTimeout};

std::optional<State> expected_target(State from, Event event) {
  for (const auto& t : kTransitions) {
    if (t.from == from && t.event == event) return t.to;
  }
  return std::nullopt;
}

std::string name(State s) {
  return std::string(to_string(s));
}
std::string name(Event e) {
  return std::string(to_string(e));
}

TEST(TransactionStates, EnumerationsAreComplete) {
  // One past the last enumerator has no name: the lists above hold every state and event.
  EXPECT_EQ(to_string(static_cast<State>(kAllStates.size())), "invalid");
  EXPECT_EQ(to_string(static_cast<Event>(kAllEvents.size())), "invalid");
}

TEST(TransactionStates, NamesAreDistinctAndValid) {
  std::set<std::string> states;
  for (auto s : kAllStates) {
    EXPECT_NE(to_string(s), "invalid");
    EXPECT_FALSE(to_string(s).empty());
    states.insert(name(s));
  }
  EXPECT_EQ(states.size(), kAllStates.size());
  std::set<std::string> events;
  for (auto e : kAllEvents) {
    EXPECT_NE(to_string(e), "invalid");
    EXPECT_FALSE(to_string(e).empty());
    events.insert(name(e));
  }
  EXPECT_EQ(events.size(), kAllEvents.size());
}

TEST(TransactionStates, StateNamesRoundTrip) {
  for (auto s : kAllStates) {
    auto parsed = state_from_string(to_string(s));
    ASSERT_TRUE(parsed.has_value()) << to_string(s);
    EXPECT_EQ(*parsed, s) << to_string(s);
  }
}

TEST(TransactionStates, PersistedNamesAreStable) {
  // These strings are on disk in existing stores: renaming one breaks resuming transactions.
  EXPECT_EQ(to_string(State::kReceived), "received");
  EXPECT_EQ(to_string(State::kWaitingForApproval), "waiting-for-approval");
  EXPECT_EQ(to_string(State::kApproved), "approved");
  EXPECT_EQ(to_string(State::kWaitingForConfirmation), "waiting-for-confirmation");
  EXPECT_EQ(to_string(State::kConfirmed), "confirmed");
  EXPECT_EQ(to_string(State::kRejected), "rejected");
  EXPECT_EQ(to_string(State::kRefused), "refused");
  EXPECT_EQ(to_string(State::kExpired), "expired");
}

TEST(TransactionStates, UnknownNamesAreNullopt) {
  for (const char* unknown : {"", "invalid", "Received", "RECEIVED", "received ", " received", "waiting",
                              "waiting-for-confirm", "issued", "timeout", "expired\n"}) {
    EXPECT_FALSE(state_from_string(unknown).has_value()) << '"' << unknown << '"';
  }
  EXPECT_FALSE(state_from_string(std::string_view("received\0", 9)).has_value());
}

TEST(TransactionStates, FinalStatesAreExactlyThoseWithoutOutgoingTransitions) {
  for (auto s : kAllStates) {
    bool has_outgoing = false;
    for (const auto& t : kTransitions) has_outgoing = has_outgoing || t.from == s;
    EXPECT_EQ(is_final(s), !has_outgoing) << to_string(s);
  }
  EXPECT_FALSE(is_final(State::kReceived));
  EXPECT_FALSE(is_final(State::kWaitingForApproval));
  EXPECT_FALSE(is_final(State::kWaitingForConfirmation));
  EXPECT_TRUE(is_final(State::kConfirmed));
  EXPECT_TRUE(is_final(State::kRejected));
  EXPECT_TRUE(is_final(State::kRefused));
  EXPECT_TRUE(is_final(State::kExpired));
}

TEST(TransactionStates, TransitionTableIsDeterministic) {
  std::set<std::pair<State, Event>> seen;
  for (const auto& t : kTransitions) {
    EXPECT_TRUE(seen.insert({t.from, t.event}).second)
        << "two transitions for " << to_string(t.from) << " + " << to_string(t.event);
  }
}

TEST(TransactionStates, EveryStateIsReachableFromReceived) {
  std::set<State> reached = {State::kReceived};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& t : kTransitions) {
      if (reached.count(t.from) && reached.insert(t.to).second) grew = true;
    }
  }
  for (auto s : kAllStates) EXPECT_TRUE(reached.count(s)) << to_string(s) << " is unreachable";
}

TEST(Transaction, BeginIsReceived) {
  auto txn = Transaction::begin();
  EXPECT_EQ(txn.state(), State::kReceived);
}

TEST(Transaction, ResumeStartsInThePersistedState) {
  for (auto s : kAllStates) {
    auto txn = Transaction::resume(s);
    EXPECT_EQ(txn.state(), s) << to_string(s);
  }
}

// The heart of it: the machine and kTransitions agree on every state x event pair.
TEST(Transaction, MachineMatchesTransitionTableForEveryPair) {
  int accepted = 0;
  for (auto from : kAllStates) {
    for (auto event : kAllEvents) {
      SCOPED_TRACE(name(from) + " + " + name(event));
      auto txn = Transaction::resume(from);
      auto result = txn.apply(event);
      if (auto to = expected_target(from, event)) {
        ++accepted;
        ASSERT_TRUE(result.has_value()) << result.error().message;
        EXPECT_EQ(*result, *to);
        EXPECT_EQ(txn.state(), *to);
      } else {
        ASSERT_FALSE(result.has_value()) << "accepted, went to " << to_string(*result);
        EXPECT_EQ(result.error().code, ErrorCode::kUnexpectedMessage);
        EXPECT_EQ(txn.state(), from);
        EXPECT_NE(result.error().message.find(name(from)), std::string::npos) << result.error().message;
        EXPECT_NE(result.error().message.find(name(event)), std::string::npos) << result.error().message;
      }
    }
  }
  EXPECT_EQ(accepted, static_cast<int>(kTransitions.size()));
}

TEST(Transaction, BeginBehavesLikeResumeReceived) {
  for (auto event : kAllEvents) {
    auto txn = Transaction::begin();
    auto result = txn.apply(event);
    auto to = expected_target(State::kReceived, event);
    EXPECT_EQ(result.has_value(), to.has_value()) << to_string(event);
    if (result && to) {
      EXPECT_EQ(*result, *to) << to_string(event);
    }
  }
}

TEST(Transaction, FinalStatesAcceptNothing) {
  for (auto from : kAllStates) {
    if (!is_final(from)) continue;
    auto txn = Transaction::resume(from);
    for (auto event : kAllEvents) {
      auto result = txn.apply(event);  // the same machine, event after event
      ASSERT_FALSE(result.has_value()) << to_string(from) << " + " << to_string(event);
      EXPECT_EQ(result.error().code, ErrorCode::kUnexpectedMessage);
      EXPECT_EQ(txn.state(), from);
    }
  }
}

TEST(Transaction, RejectedEventLeavesMachineUsable) {
  auto txn = Transaction::begin();
  ASSERT_FALSE(txn.apply(Event::kConfirmed).has_value());
  ASSERT_FALSE(txn.apply(Event::kTimeout).has_value());
  auto issued = txn.apply(Event::kIssued);
  ASSERT_TRUE(issued.has_value());
  EXPECT_EQ(*issued, State::kWaitingForConfirmation);
  auto confirmed = txn.apply(Event::kConfirmed);
  ASSERT_TRUE(confirmed.has_value());
  EXPECT_EQ(*confirmed, State::kConfirmed);
}

TEST(Transaction, HeldThenApprovedThenConfirmed) {
  auto txn = Transaction::begin();
  ASSERT_EQ(txn.apply(Event::kHeld).value_or(State::kReceived), State::kWaitingForApproval);
  ASSERT_FALSE(txn.apply(Event::kHeld).has_value());    // already held
  ASSERT_FALSE(txn.apply(Event::kIssued).has_value());  // not before an officer approved
  ASSERT_EQ(txn.apply(Event::kApproved).value_or(State::kReceived), State::kApproved);
  ASSERT_FALSE(txn.apply(Event::kApproved).has_value());  // approved once
  ASSERT_EQ(txn.apply(Event::kIssued).value_or(State::kReceived), State::kWaitingForConfirmation);
  ASSERT_EQ(txn.apply(Event::kRejected).value_or(State::kReceived), State::kRejected);
  EXPECT_FALSE(txn.apply(Event::kConfirmed).has_value());
  EXPECT_EQ(txn.state(), State::kRejected);
}

TEST(Transaction, ResumeAfterPersistingByName) {
  auto first = Transaction::begin();
  ASSERT_TRUE(first.apply(Event::kHeld).has_value());
  const std::string persisted = name(first.state());
  auto state = state_from_string(persisted);
  ASSERT_TRUE(state.has_value());
  auto second = Transaction::resume(*state);
  auto result = second.apply(Event::kTimeout);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, State::kExpired);
}

TEST(Transaction, MoveKeepsState) {
  auto txn = Transaction::begin();
  ASSERT_TRUE(txn.apply(Event::kIssued).has_value());
  Transaction moved = std::move(txn);
  EXPECT_EQ(moved.state(), State::kWaitingForConfirmation);
  auto other = Transaction::resume(State::kExpired);
  other = std::move(moved);
  EXPECT_EQ(other.state(), State::kWaitingForConfirmation);
  auto result = other.apply(Event::kConfirmed);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, State::kConfirmed);
}

// ---- docs/transaction-states.dot, generated from kTransitions ----

std::string render_dot() {
  std::ostringstream out;
  out << "// Transaction states of enrolld (src/txn/transaction.h, kTransitions).\n"
      << "// Generated by tests/unit/txn/transaction_test.cpp; do not edit. To regenerate:\n"
      << "//   ENROLLD_UPDATE_DOCS=1 ctest --test-dir <build> -L unit -R TransactionStatesDot\n"
      << "digraph transaction_states {\n"
      << "  rankdir=LR;\n"
      << "  node [shape=circle];\n";
  for (auto s : kAllStates) {
    out << "  \"" << to_string(s) << "\"";
    if (is_final(s)) out << " [shape=doublecircle]";
    out << ";\n";
  }
  for (const auto& t : kTransitions) {
    out << "  \"" << to_string(t.from) << "\" -> \"" << to_string(t.to) << "\" [label=\"" << to_string(t.event)
        << "\"];\n";
  }
  out << "}\n";
  return out.str();
}

TEST(TransactionStatesDot, RenderingHasEveryStateAndTransition) {
  const std::string dot = render_dot();
  for (auto s : kAllStates) {
    const std::string node = "  \"" + name(s) + "\"" + (is_final(s) ? " [shape=doublecircle]" : "") + ";\n";
    EXPECT_NE(dot.find(node), std::string::npos) << node;
  }
  for (const auto& t : kTransitions) {
    const std::string edge = "\"" + name(t.from) + "\" -> \"" + name(t.to) + "\" [label=\"" + name(t.event) + "\"];";
    EXPECT_NE(dot.find(edge), std::string::npos) << edge;
  }
}

TEST(TransactionStatesDot, CheckedInFileMatchesTransitionTable) {
  const std::string path = std::string(ENROLLD_SOURCE_DIR) + "/docs/transaction-states.dot";
  const std::string expected = render_dot();
  const char* update = std::getenv("ENROLLD_UPDATE_DOCS");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << expected;
    out.close();
    ASSERT_TRUE(out.good()) << "cannot write " << path;
    std::cout << "wrote " << path << "\n";
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << path << " is missing; run with ENROLLD_UPDATE_DOCS=1 to write it";
  std::ostringstream actual;
  actual << in.rdbuf();
  EXPECT_EQ(actual.str(), expected)
      << path << " is out of date with kTransitions; run with ENROLLD_UPDATE_DOCS=1 to rewrite it";
}

}  // namespace
}  // namespace enrolld::txn
