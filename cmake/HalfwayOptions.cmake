# User-facing switches. Every one has a preset in CMakePresets.json.

set(HALFWAY_CUDA AUTO CACHE STRING "Build the CUDA (nvcc) versions of the kernels: AUTO (when nvcc is found), GPU (when nvcc is found and a GPU is usable), ON (required), OFF")
set_property(CACHE HALFWAY_CUDA PROPERTY STRINGS AUTO GPU ON OFF)

# Which implementation of the exercised functions is linked into programs and tests.
#   solutions  the canonical code in solutions/ (default)
#   exercises  the student's copy as it is: exercises/ of this checkout, or HALFWAY_EXERCISES_DIR
#              (tools/grade.py's build: an unwritten exercise throws "not implemented yet")
#   mixed      the student build: each exercise's body from HALFWAY_EXERCISES_DIR where the
#              student wrote it, else the reference from solutions/ (whose tests then fail
#              on purpose), composed into <build>/implementation by tools/implementation.py
#              (cmake/HalfwayImplementation.cmake), so the tests of an exercise depend on it only
set(HALFWAY_IMPL solutions CACHE STRING "Implementation of the exercises to link: solutions, exercises or mixed")
set_property(CACHE HALFWAY_IMPL PROPERTY STRINGS solutions exercises mixed)
set(HALFWAY_EXERCISES_DIR "${PROJECT_SOURCE_DIR}/exercises" CACHE PATH
    "Folder holding the student's exercises (used when HALFWAY_IMPL=exercises or mixed)")
set(HALFWAY_REFERENCE_FOR "" CACHE STRING
    "HALFWAY_IMPL=mixed: exercises (e.g. 01.1;01.2) to run on the reference even where written")

if(HALFWAY_IMPL STREQUAL "solutions")
  set(HALFWAY_IMPL_DIR "${PROJECT_SOURCE_DIR}/solutions")
elseif(HALFWAY_IMPL MATCHES "^(exercises|mixed)$")
  get_filename_component(HALFWAY_STUDENT_DIR "${HALFWAY_EXERCISES_DIR}" ABSOLUTE)
  if(NOT IS_DIRECTORY "${HALFWAY_STUDENT_DIR}")
    message(FATAL_ERROR "HALFWAY_EXERCISES_DIR: expected a folder of exercises, found nothing at '${HALFWAY_STUDENT_DIR}'")
  endif()
  set(HALFWAY_IMPL_DIR "${HALFWAY_STUDENT_DIR}")
  if(HALFWAY_IMPL STREQUAL "mixed")
    set(HALFWAY_IMPL_DIR "${PROJECT_BINARY_DIR}/implementation")
  endif()
else()
  message(FATAL_ERROR "HALFWAY_IMPL: expected 'solutions', 'exercises' or 'mixed', found '${HALFWAY_IMPL}'")
endif()

# Host SIMD. OFF (default): the hand-vectorised host paths (F16C conversions, the AVX-512
# dropout mask) are compiled with per-function target attributes and taken only where the
# CPU has them. ON: none of that code is compiled and no -m flag adds F16C or AVX
# (common/host_simd.hpp): the plain C++ twins everywhere, the same bits. For a compiler
# without x86 intrinsics, and for CI's proof that the plain build passes chapter 03's tests.
option(HALFWAY_PLAIN_CPU "Compile only the plain C++ host paths (no F16C or AVX-512 code)" OFF)
if(HALFWAY_PLAIN_CPU)
  add_compile_definitions(HALFWAY_PLAIN_CPU=1)
endif()

# Sanitizers: none, address (ASan + UBSan), thread (TSan: the emulator's race checker).
set(HALFWAY_SANITIZE none CACHE STRING "Sanitizer build: none, address, thread")
set_property(CACHE HALFWAY_SANITIZE PROPERTY STRINGS none address thread)
if(HALFWAY_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(HALFWAY_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT HALFWAY_SANITIZE STREQUAL "none")
  message(FATAL_ERROR "HALFWAY_SANITIZE: expected none, address or thread, found '${HALFWAY_SANITIZE}'")
endif()
