# Copies the parts of an offline MathJax 2 the site needs (TeX input, HTML-CSS output and
# its TeX fonts), not the 54 MB package. Run with -D SRC=... -D DST=... -P.
if(NOT EXISTS "${SRC}/MathJax.js")
  message(FATAL_ERROR "docs: expected MathJax at ${SRC}, found none; install it with: sudo apt-get install libjs-mathjax")
endif()
if(EXISTS "${DST}/MathJax.js")
  return()
endif()
file(COPY "${SRC}/MathJax.js" "${SRC}/config" "${SRC}/extensions" "${SRC}/localization" DESTINATION "${DST}")
file(COPY "${SRC}/jax/input/TeX" DESTINATION "${DST}/jax/input")
file(COPY "${SRC}/jax/output/HTML-CSS" DESTINATION "${DST}/jax/output")
file(COPY "${SRC}/jax/element" DESTINATION "${DST}/jax")
file(COPY "${SRC}/fonts/HTML-CSS/TeX/woff" DESTINATION "${DST}/fonts/HTML-CSS/TeX")
