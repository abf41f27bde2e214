# Run after an integration test binary is built (see enrolld_add_test PER_SUITE): lists its
# gtest suites and writes one ctest entry per suite into CTEST_FILE, so that a suite's tests
# share the demo appliance its SetUpTestSuite starts instead of starting one per test.
# Inputs: TEST_EXECUTABLE, CTEST_FILE, LABEL, WORKING_DIRECTORY.
execute_process(COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
                OUTPUT_VARIABLE listing RESULT_VARIABLE status TIMEOUT 60)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${status}):\n${listing}")
endif()
set(content "")
string(REPLACE "\n" ";" lines "${listing}")
foreach(line IN LISTS lines)
  # Suite lines start in column 0 and end with '.', maybe followed by "  # TypeParam = ...".
  if(line MATCHES "^([^ #][^ ]*)\\.( .*)?$")
    set(suite "${CMAKE_MATCH_1}")
    string(APPEND content
      "add_test([=[${suite}]=] \"${TEST_EXECUTABLE}\" [=[--gtest_filter=${suite}.*]=])\n"
      "set_tests_properties([=[${suite}]=] PROPERTIES LABELS ${LABEL} WORKING_DIRECTORY \"${WORKING_DIRECTORY}\")\n")
  endif()
endforeach()
file(WRITE "${CTEST_FILE}" "${content}")
