# `plots`: matplotlib scripts over the programs' logs (filled in by the plots work).
