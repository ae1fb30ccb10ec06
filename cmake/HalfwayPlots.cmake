# `plots`: every figure registered with halfway_plot(), as PNGs in <build>/plots.
get_property(HALFWAY_PLOT_TARGETS GLOBAL PROPERTY HALFWAY_PLOT_TARGETS)
execute_process(COMMAND "${HALFWAY_PYTHON}" -c "import matplotlib"
                RESULT_VARIABLE no_matplotlib OUTPUT_QUIET ERROR_QUIET)
if(no_matplotlib)
  add_custom_target(plots
    COMMAND ${CMAKE_COMMAND} -E echo "plots: expected matplotlib for ${HALFWAY_PYTHON}, found none; install it with: sudo apt-get install python3-matplotlib (or -DHALFWAY_PYTHON=/path/to/python3 with matplotlib)"
    COMMAND ${CMAKE_COMMAND} -E false)
else()
  add_custom_target(plots)
  if(HALFWAY_PLOT_TARGETS)
    add_dependencies(plots ${HALFWAY_PLOT_TARGETS})
  endif()
endif()

# `figures`: refreshes the lessons' committed figures from this build's plots: each
# <build>/plots/NAME.png is copied to figures/NAME.png next to the CMakeLists.txt that
# registered it (chapters/NN_topic/figures/), where the lesson links it. The docs site and a
# code host both show the committed copies, so only this target runs the figure programs.
# A figure must stay under 150 KB (a plot script's dpi/size), and its caption in the
# lesson names the machine and the date: update them when you commit a refreshed figure.
if(TARGET plots AND HALFWAY_PLOT_TARGETS)
  set(copies "")
  foreach(t IN LISTS HALFWAY_PLOT_TARGETS)
    string(REGEX REPLACE "^plot_" "" name "${t}")
    get_target_property(dir ${t} SOURCE_DIR)
    list(APPEND copies COMMAND ${CMAKE_COMMAND} -D "SRC=${PROJECT_BINARY_DIR}/plots/${name}.png"
                               -D "DST=${dir}/figures/${name}.png" -P "${PROJECT_SOURCE_DIR}/cmake/CopyFigure.cmake")
  endforeach()
  add_custom_target(figures ${copies} COMMENT "Copying the plots over the lessons' committed figures" VERBATIM)
  add_dependencies(figures plots)
endif()
