# HALFWAY_IMPL=mixed (the `student` preset): the build compiles <build>/implementation, which
# tools/implementation.py composes from the student's exercises (HALFWAY_EXERCISES_DIR) and
# solutions/: the student's body for each exercise they wrote, the reference for the others.
# It is composed once here (so the first build finds it) and again by the target
# halfway_implementation whenever a file of either folder changes; it writes only files whose
# content changed, so ninja recompiles only what includes a changed exercise.
# halfway_implementation_dependency(target) makes a target's compilation wait for it.

function(halfway_implementation_dependency target)
  if(TARGET halfway_implementation)
    add_dependencies(${target} halfway_implementation)
  endif()
endfunction()

if(NOT HALFWAY_IMPL STREQUAL "mixed")
  return()
endif()

set(HALFWAY_EXERCISE_STATUS "${HALFWAY_IMPL_DIR}/exercise_status.txt")
string(REPLACE ";" "," reference_for "${HALFWAY_REFERENCE_FOR}")
set(compose_command "${Python3_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/tools/implementation.py"
    --exercises "${HALFWAY_STUDENT_DIR}" --solutions "${PROJECT_SOURCE_DIR}/solutions"
    --out "${HALFWAY_IMPL_DIR}" "--reference-for=${reference_for}")
execute_process(COMMAND ${compose_command} RESULT_VARIABLE failed OUTPUT_VARIABLE said ERROR_VARIABLE error
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(failed)
  message(FATAL_ERROR "halfway: composing the implementation failed: ${error}${said}")
endif()
message(STATUS "halfway: ${said}")

# Every file the composition reads: a file added to either folder re-runs CMake.
file(GLOB_RECURSE compose_inputs CONFIGURE_DEPENDS
     "${HALFWAY_STUDENT_DIR}/*" "${PROJECT_SOURCE_DIR}/solutions/*")
list(FILTER compose_inputs EXCLUDE REGEX "/__pycache__/")
file(GLOB_RECURSE composed_files "${HALFWAY_IMPL_DIR}/*")
set(stamp "${PROJECT_BINARY_DIR}/implementation.stamp")
add_custom_command(OUTPUT "${stamp}"
  BYPRODUCTS ${composed_files}
  COMMAND ${compose_command} --stamp "${stamp}"
  DEPENDS ${compose_inputs} "${PROJECT_SOURCE_DIR}/tools/implementation.py" "${PROJECT_SOURCE_DIR}/tools/exercises.py"
  COMMENT "Composing the implementation from your exercises and the reference"
  VERBATIM)
add_custom_target(halfway_implementation ALL DEPENDS "${stamp}")
