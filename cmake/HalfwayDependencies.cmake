# Third-party libraries, all from Debian packages (tools/install-deps installs them).
# A missing one stops the configure with the package to install.

function(halfway_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR "halfway: expected ${what}, found none. Install it with: "
                        "sudo apt-get install ${package}   (or run tools/install-deps)")
  endif()
endfunction()

find_package(Threads REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)  # tools/ and test scripts: standard library only
find_package(OpenMP)
halfway_require(OpenMP_CXX_FOUND "OpenMP for C++" "g++")

find_package(doctest CONFIG QUIET)
halfway_require(doctest_FOUND "doctest (the test framework)" "doctest-dev")
include(doctest)

find_package(CLI11 CONFIG QUIET)
halfway_require(CLI11_FOUND "CLI11 (command-line parsing)" "libcli11-dev")

find_package(nlohmann_json CONFIG QUIET)
halfway_require(nlohmann_json_FOUND "nlohmann-json (JSON logs and headers)" "nlohmann-json3-dev")

find_package(Boost 1.74 QUIET COMPONENTS context)
halfway_require(Boost_FOUND "Boost.Context (the emulator's fibers)" "libboost-context-dev")

set(BLA_VENDOR OpenBLAS)
find_package(BLAS QUIET)
find_path(HALFWAY_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas openblas-pthread)
if(NOT BLAS_FOUND OR NOT HALFWAY_CBLAS_INCLUDE_DIR)
  set(_blas_found OFF)
else()
  set(_blas_found ON)
endif()
halfway_require(_blas_found "OpenBLAS (the cpu backend's sgemm)" "libopenblas-dev")
add_library(halfway_openblas INTERFACE)
target_link_libraries(halfway_openblas INTERFACE ${BLAS_LIBRARIES})
target_include_directories(halfway_openblas SYSTEM INTERFACE ${HALFWAY_CBLAS_INCLUDE_DIR})

# OpenBLAS picks its kernels from the CPU's model name. A virtual machine that reports a
# generic name ("Intel(R) Xeon(R) Processor") gets the slow Prescott kernels: 6.8 instead
# of 44 GFLOP/s for sgemm on this course's 2-core machines. So the build names the kernel
# set from the CPU's flags, and every test, demo and plot it runs sets OPENBLAS_CORETYPE.
if(NOT DEFINED HALFWAY_OPENBLAS_CORETYPE)
  set(_coretype "")
  if(EXISTS /proc/cpuinfo)
    file(STRINGS /proc/cpuinfo _flags REGEX "^flags" LIMIT_COUNT 1)
    if(_flags MATCHES " avx512f ")
      set(_coretype SkylakeX)
    elseif(_flags MATCHES " avx2 ")
      set(_coretype Haswell)
    endif()
  endif()
  set(HALFWAY_OPENBLAS_CORETYPE "${_coretype}" CACHE STRING "OPENBLAS_CORETYPE for the tests and programs the build runs (empty: OpenBLAS decides)")
endif()
if(HALFWAY_OPENBLAS_CORETYPE)
  set(HALFWAY_RUN_ENV "OPENBLAS_CORETYPE=${HALFWAY_OPENBLAS_CORETYPE}")
else()
  set(HALFWAY_RUN_ENV "HALFWAY_OPENBLAS_DEFAULT=1")
endif()

# MPI (chapter 08, data parallel): optional. Without it the course still builds; kernels/dist
# then has only its single-process communicator and chapter 08's multi-rank tests are not
# registered (the chapter's configure message says what to install).
find_package(MPI QUIET COMPONENTS CXX)
if(MPI_CXX_FOUND)
  set(HALFWAY_WITH_MPI ON)
else()
  set(HALFWAY_WITH_MPI OFF)
endif()

# Thrust for host-side code: the CUDA toolkit's CCCL when present, else Debian's libthrust-dev.
# Host code runs Thrust's algorithms on the CPU (CPP device system).
find_path(HALFWAY_CCCL_INCLUDE_DIR thrust/version.h
  HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include
  PATH_SUFFIXES cccl NO_DEFAULT_PATH)
if(HALFWAY_CCCL_INCLUDE_DIR)
  set(HALFWAY_THRUST_INCLUDE_DIR "${HALFWAY_CCCL_INCLUDE_DIR}")
else()
  find_path(HALFWAY_THRUST_INCLUDE_DIR thrust/version.h)
endif()
halfway_require(HALFWAY_THRUST_INCLUDE_DIR "Thrust headers (CUDA's CCCL or Debian's)" "libthrust-dev")
add_library(halfway_thrust_host INTERFACE)
target_include_directories(halfway_thrust_host SYSTEM INTERFACE "${HALFWAY_THRUST_INCLUDE_DIR}")
target_compile_definitions(halfway_thrust_host INTERFACE
  THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_CPP THRUST_HOST_SYSTEM=THRUST_HOST_SYSTEM_CPP)

# Python with matplotlib for the plots; the pyenv python3 on PATH may lack it.
find_program(HALFWAY_PYTHON NAMES python3 HINTS /usr/bin NO_DEFAULT_PATH)
if(NOT HALFWAY_PYTHON)
  find_program(HALFWAY_PYTHON NAMES python3)
endif()
