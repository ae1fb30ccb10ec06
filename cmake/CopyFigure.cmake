# cmake -D SRC=<build>/plots/NAME.png -D DST=chapters/NN_topic/figures/NAME.png -P CopyFigure.cmake
# One figure of the `figures` target: refuses a PNG over 150 KB (the repository keeps them
# small), copies it and says which caption to update.
set(limit 153600)
file(SIZE "${SRC}" size)
if(size GREATER limit)
  math(EXPR kb "${size} / 1024")
  message(FATAL_ERROR "figures: ${SRC} is ${kb} KB, expected at most 150 KB; lower its plot script's dpi or figure size")
endif()
get_filename_component(dir "${DST}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
file(COPY_FILE "${SRC}" "${DST}")
math(EXPR kb "(${size} + 1023) / 1024")
get_filename_component(name "${DST}" NAME)
get_filename_component(chapter "${dir}" DIRECTORY)
message(STATUS "figures: ${DST} (${kb} KB): update the machine and date in ${chapter}/README.md's caption of ${name}")
