# Tests that exist only in the sanitizer presets: a probe program runs a buggy kernel in a
# child process and check_probe.cmake asserts that the sanitizer's report names the
# kernel's source line(s), and that the fixed kernel reports nothing.
if(NOT HALFWAY_SANITIZE STREQUAL "thread" AND NOT HALFWAY_SANITIZE STREQUAL "address")
  return()
endif()

add_executable(emu_sanitizer_probe sanitizer_probe.cpp)
target_link_libraries(emu_sanitizer_probe PRIVATE halfway_emu)
halfway_chapter(ch00)
add_dependencies(ch00 emu_sanitizer_probe)

function(halfway_emu_probe_test mode expect)
  set(name "emu_${HALFWAY_SANITIZE}_probe_${mode}")
  add_test(NAME ${name}
    COMMAND ${CMAKE_COMMAND} -DPROBE=$<TARGET_FILE:emu_sanitizer_probe> -DMODE=${mode} -DEXPECT=${expect}
            -DSANITIZER=${HALFWAY_SANITIZE} -P ${CMAKE_CURRENT_SOURCE_DIR}/check_probe.cmake)
  set_tests_properties(${name} PROPERTIES LABELS "ch00;emu;${HALFWAY_SANITIZE}" TIMEOUT 300)
endfunction()

if(HALFWAY_SANITIZE STREQUAL "thread")
  halfway_emu_probe_test(race report)
  halfway_emu_probe_test(race-fixed clean)
  halfway_emu_probe_test(legacy-warp report)
  halfway_emu_probe_test(legacy-warp-fixed clean)
  halfway_emu_probe_test(clean clean)
else()
  halfway_emu_probe_test(oob-shared report)
  halfway_emu_probe_test(oob-global report)
  halfway_emu_probe_test(clean clean)
endif()
