# Compiler warnings and quality modes shared by every target in the project.
add_library(enrolld_build_flags INTERFACE)
target_compile_options(enrolld_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Woverloaded-virtual>)
if(ENROLLD_WERROR)
  target_compile_options(enrolld_build_flags INTERFACE -Werror)
endif()
if(ENROLLD_SANITIZE)
  target_compile_options(enrolld_build_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(enrolld_build_flags INTERFACE -fsanitize=address,undefined)
endif()

# Linked by executables only: sanitizer options and leak suppressions built into the binary.
add_library(enrolld_sanitizer_defaults INTERFACE)
if(ENROLLD_SANITIZE)
  target_sources(enrolld_sanitizer_defaults INTERFACE ${PROJECT_SOURCE_DIR}/src/common/sanitizer_defaults.cpp)
endif()
