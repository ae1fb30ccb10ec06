# `docs`: the Doxygen site (filled in by the docs work).
