# `docs`: the Doxygen site, offline. README.md is the main page, each chapter's README.md a
# page (in chapter order), the headers the API reference, formulas rendered by Debian's
# MathJax copied next to the pages. Warnings fail the build.
find_package(Doxygen QUIET)
if(NOT DOXYGEN_FOUND)
  add_custom_target(docs COMMAND ${CMAKE_COMMAND} -E echo "docs: expected doxygen, found none; install it with: sudo apt-get install doxygen graphviz libjs-mathjax" COMMAND ${CMAKE_COMMAND} -E false)
  return()
endif()

set(HALFWAY_DOCS_DIR "${PROJECT_BINARY_DIR}/docs")
set(HALFWAY_MATHJAX_DIR "/usr/share/javascript/mathjax" CACHE PATH "An offline MathJax 2 (Debian libjs-mathjax)")
if(DOXYGEN_DOT_FOUND)
  set(HALFWAY_HAVE_DOT YES)
else()
  set(HALFWAY_HAVE_DOT NO)
endif()

file(GLOB chapter_pages "${PROJECT_SOURCE_DIR}/chapters/[0-9][0-9]_*/README.md")
list(SORT chapter_pages)
set(inputs "${PROJECT_SOURCE_DIR}/README.md" ${chapter_pages} "${PROJECT_SOURCE_DIR}/CONTRIBUTING.md"
    "${PROJECT_SOURCE_DIR}/common" "${PROJECT_SOURCE_DIR}/kernels" "${PROJECT_SOURCE_DIR}/solutions")
list(JOIN inputs " " HALFWAY_DOCS_INPUT)
configure_file("${PROJECT_SOURCE_DIR}/docs/Doxyfile.in" "${HALFWAY_DOCS_DIR}/Doxyfile" @ONLY)

add_custom_target(docs
  COMMAND ${CMAKE_COMMAND} -E make_directory "${HALFWAY_DOCS_DIR}/html"
  COMMAND ${CMAKE_COMMAND} -D "SRC=${HALFWAY_MATHJAX_DIR}" -D "DST=${HALFWAY_DOCS_DIR}/html/mathjax"
          -P "${PROJECT_SOURCE_DIR}/cmake/CopyMathJax.cmake"
  COMMAND ${DOXYGEN_EXECUTABLE} "${HALFWAY_DOCS_DIR}/Doxyfile"
  COMMAND ${CMAKE_COMMAND} -E echo "docs: open ${HALFWAY_DOCS_DIR}/html/index.html"
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
  COMMENT "Building the Doxygen site"
  VERBATIM)
# The lessons' figures are the PNGs committed next to them (chapters/NN_topic/figures/),
# so the site needs no figure program run; `figures` refreshes them (HalfwayPlots.cmake).

# The built site as a reader meets it: offline from file:// in headless Chromium, every
# lesson page loads, its formulas typeset, its images load, no link of the site is broken.
# Needs the docs target built first (skipped otherwise, and without chromium; CI sets
# HALFWAY_CHECK_DOCS=1 so that a skip fails there).
add_test(NAME "docs: the site offline in headless Chromium (formulas, images, links)"
         COMMAND Python3::Interpreter tools/check_docs_site.py "${HALFWAY_DOCS_DIR}/html"
         WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
set_tests_properties("docs: the site offline in headless Chromium (formulas, images, links)"
                     PROPERTIES LABELS docs SKIP_RETURN_CODE 77 TIMEOUT 300)
