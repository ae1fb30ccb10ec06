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
