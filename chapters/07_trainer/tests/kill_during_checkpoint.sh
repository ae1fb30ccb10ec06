#!/bin/sh
# A real crash while halfway-train writes a checkpoint: SIGKILL lands halfway through a file
# (the test hook HALFWAY_CHECKPOINT_PAUSE_MS pauses there after a line on stderr, so the
# kill is deterministic), once in the tensor file and once in trainer.json. Each time the
# previous checkpoint (step 2) must still load and translate, the half-written temporary
# file must be there but never taken for a checkpoint, and a resumed run continues from
# step 2 and leaves no temporary file behind.
# Usage: kill_during_checkpoint.sh PATH/TO/halfway-train
set -u
train=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/halfway_ch07_kill.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
tiny="--size tiny --backend cpu --eval-every 0"
fail() {
  echo "FAIL: $*"
  exit 1
}

# Runs `halfway-train --resume DIR` to step 4 with the pause hook (PAUSE ms in every file it
# writes), kills it at the N-th pause (1: the tensor file, 2: trainer.json), then checks DIR.
# The kill must come within the pause: the killer polls every 50 ms.
kill_at_pause() {
  n=$1 pause=$2
  dir=$work/ckpt$n
  "$train" $tiny --steps 2 --checkpoint "$dir" >"$work/first$n.log" 2>&1 || fail "the first run failed: $(cat "$work/first$n.log")"
  : >"$work/run$n.log"  # there before the first poll (the child opens it after the fork)
  HALFWAY_CHECKPOINT_PAUSE_MS=$pause "$train" $tiny --resume "$dir" --steps 4 --checkpoint "$dir" >"$work/run$n.log" 2>&1 &
  pid=$!
  tries=0
  while [ "$(grep -c 'checkpoint write paused halfway' "$work/run$n.log")" -lt "$n" ]; do
    tries=$((tries + 1))
    [ $tries -le 400 ] || { kill -9 $pid; fail "no pause number $n within 20 s: $(cat "$work/run$n.log")"; }
    kill -0 $pid 2>/dev/null || fail "halfway-train ended before pause number $n: $(cat "$work/run$n.log")"
    sleep 0.05
  done
  kill -9 $pid
  wait $pid 2>/dev/null  # (the shell's "Killed" notice is expected)
  status=$?
  [ $status -eq 137 ] || fail "expected the kill's exit status 137, found $status"
  echo "killed at pause $n: $(grep 'checkpoint write paused' "$work/run$n.log" | tail -n 1)"

  tmp=$(ls "$dir" | grep '\.tmp$')
  [ -n "$tmp" ] || fail "the kill left no temporary file (it did not land mid-write): $(ls "$dir")"
  grep -q '"step": 2,' "$dir/trainer.json" || fail "trainer.json is not the step-2 checkpoint's: $(cat "$dir/trainer.json")"
  named=$(sed -n 's/.*"tensors": "\(.*\)".*/\1/p' "$dir/trainer.json")
  case "$named" in
    state-00000002-*.safetensors) ;;
    *) fail "trainer.json names '$named', not the step-2 tensor file" ;;
  esac
  out=$("$train" translate --resume "$dir" 407 2>&1) || fail "the previous checkpoint does not load: $out"
  echo "$out" | grep -q '^407 -> ' || fail "no translation of 407: $out"
  words=$out
  out=$("$train" $tiny --resume "$dir" --steps 3 --checkpoint "$dir" 2>&1) || fail "the resumed run failed: $out"
  echo "$out" | grep -q 'resumed at step 2' || fail "the resumed run did not start at step 2: $out"
  left=$(ls "$dir" | grep '\.tmp$')
  [ -z "$left" ] || fail "temporary files left after the next checkpoint: $left"
  echo "pause $n: the kill left $tmp; the step-2 checkpoint loaded ($words), a resumed run continued from step 2"
}

kill_at_pause 1 20000  # at once
kill_at_pause 2 3000   # after the tensor file's pause of 3 s
echo "PASS"
