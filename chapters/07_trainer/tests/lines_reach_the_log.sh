#!/bin/sh
# halfway-train's lines reach a file (or a pipe) as they are printed: stdout is
# line-buffered (run_program), so a run killed early keeps its header. With stdio's
# default block buffering nothing appears until the first progress line (5 s at the
# earliest here: a run of a million steps prints one every 10% or 5 s).
# Usage: lines_reach_the_log.sh <halfway-train>
prog="$1"
out=$(mktemp)
"$prog" --size tiny --steps 1000000 --backend cpu --eval-every 0 --threads 1 > "$out" 2>&1 &
pid=$!
tries=0
while [ $tries -lt 30 ]; do  # 3 s at most
  if grep -q "^task: " "$out"; then
    kill -9 $pid
    wait $pid 2>/dev/null
    echo "PASS: the header reached the file at once"
    rm -f "$out"
    exit 0
  fi
  sleep 0.1
  tries=$((tries + 1))
done
kill -9 $pid
wait $pid 2>/dev/null
echo "FAIL: 3 s into the run its file holds $(wc -c < "$out") bytes, no header"
rm -f "$out"
exit 1
